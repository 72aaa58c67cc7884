// Who is logged in, and what kind of server this is (a node or a lounge). Pages read these to
// leave out what the user may not use: only server admins see databases' list, replication, the
// node and the shard map.

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

export interface Session {
  name: string | null;
  roles: string[];
  /** GET / said `vendor.name` is "Chaise Lounge". */
  lounge: boolean;
  version: string;
}

export const isAdmin = (s: Session) => s.roles.includes('_admin');

export const SessionContext = createContext<Session>({ name: null, roles: [], lounge: false, version: '' });
export const useSession = () => useContext(SessionContext);
