// `[couch_httpd_auth] password_regexp` (couch_users_db:validate_password): an Erlang list of
// requirements a new password must match before it is hashed. Each is a regex string, `{Regex}`,
// or `{Regex, Reason}`; a password that fails one is 400 "Password does not conform to
// requirements." plus the reason when it has one. A value that is not such a list is a server
// misconfiguration: the write is 403 "Server cannot hash passwords at this time."

export const REQUIREMENT_ERROR = 'Password does not conform to requirements.';
export const PASSWORD_SERVER_ERROR = 'Server cannot hash passwords at this time.';

type Term = string | Term[] | { tuple: Term[] } | { other: string };

/** The strings, lists and tuples of an Erlang term (couch_util:parse_term); undefined if it does not parse. */
export function parseTerm(text: string): Term | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const value = (): Term => {
    ws();
    const c = text[i];
    if (c === '[' || c === '{') {
      const close = c === '[' ? ']' : '}';
      i++;
      const items: Term[] = [];
      ws();
      if (text[i] === close) {
        i++;
        return c === '[' ? items : { tuple: items };
      }
      for (;;) {
        items.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === close) {
          i++;
          return c === '[' ? items : { tuple: items };
        }
        throw new Error('bad term');
      }
    }
    if (c === '"') {
      i++;
      let s = '';
      for (;;) {
        if (i >= text.length) throw new Error('unterminated string');
        const ch = text[i++] as string;
        if (ch === '"') return s;
        if (ch === '\\') {
          const e = text[i++] as string;
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === 's' ? ' ' : e;
        } else s += ch;
      }
    }
    const m = /^[A-Za-z0-9_@.+-]+/.exec(text.slice(i));
    if (!m) throw new Error('bad term');
    i += m[0].length;
    return { other: m[0] };
  };
  try {
    const t = value();
    ws();
    if (text[i] === '.') i++;
    ws();
    return i === text.length ? t : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks a clear password against `password_regexp` (undefined or '' or '[]': no rules). Returns
 * undefined when it passes, else CouchDB's error and reason.
 */
export function checkPassword(password: string, rules: string | undefined): { error: 'bad_request' | 'forbidden'; reason: string } | undefined {
  if (rules === undefined || rules.trim() === '' || rules.trim() === '[]') return undefined;
  const list = parseTerm(rules);
  const serverError = { error: 'forbidden' as const, reason: PASSWORD_SERVER_ERROR };
  if (!Array.isArray(list)) return serverError;
  for (const rule of list) {
    let source: string;
    let message = REQUIREMENT_ERROR;
    if (typeof rule === 'string' && rule.length > 0) source = rule;
    else if (typeof rule === 'object' && 'tuple' in rule && typeof rule.tuple[0] === 'string' && rule.tuple.length >= 1 && rule.tuple.length <= 2) {
      source = rule.tuple[0];
      const reason = rule.tuple[1];
      if (typeof reason === 'string' && reason.length > 0) message = `${REQUIREMENT_ERROR} ${reason}`;
    } else return serverError;
    let re: RegExp;
    try {
      re = new RegExp(source);
    } catch {
      return serverError;
    }
    if (!re.test(password)) return { error: 'bad_request', reason: message };
  }
  return undefined;
}
