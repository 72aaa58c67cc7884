// The node's configuration as CouchDB keeps it: sections of string keys holding string values,
// read and changed through `/_node/{node}/_config`. This is the pure core: no files, no HTTP.
// Three layers make the values in effect:
//   - base: what the node was started with (`--config` file and flags), never written back;
//   - overlay: changes made with persistence, kept in a file by the caller (`persist`); a key the
//     overlay maps to null was deleted, so a base value does not come back on restart;
//   - transient changes (`X-Couch-Persist: false`), held in memory until a reload or restart.
// Subscribers hear every change to the values in effect; they apply live settings.

/** section → key → value */
export type Sections = Record<string, Record<string, string>>;
/** section → key → value, or null where a persisted change deleted the key. */
export type Overlay = Record<string, Record<string, string | null>>;

export interface ConfigChange {
  section: string;
  key: string;
  /** The new value, or undefined when the key went away. */
  value: string | undefined;
}

export type ConfigListener = (change: ConfigChange) => void;

/** CouchDB's validation texts (config.erl). */
export const INVALID_SECTION = 'Invalid configuration section';
export const INVALID_KEY = 'Invalid configuration key';
export const INVALID_VALUE = 'Invalid configuration value';

/** A config change CouchDB would refuse; `reason` is its text. */
export class ConfigRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

// Screen-visible characters, spaces and tabs (no line breaks or other control characters), as
// config.erl's `^[[:graph:]\t\s]*$`; sections and keys also may not hold `[` or `]`, which would
// let a value open a new section in an ini file.
const PRINTABLE = /^[^\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]*$/;
const BRACKETS = /[[\]]/;

export function validateUpdate(section: string, key: string, value: string): string | undefined {
  if (!PRINTABLE.test(section) || BRACKETS.test(section) || section === '') return INVALID_SECTION;
  if (!PRINTABLE.test(key) || BRACKETS.test(key) || key === '') return INVALID_KEY;
  if (!PRINTABLE.test(value)) return INVALID_VALUE;
  return undefined;
}

export interface ConfigStoreOptions {
  base: Sections;
  /** Reads the persisted overlay (start-up and `_reload`). */
  load: () => Overlay;
  /** Writes the whole persisted overlay; throws when it cannot (the change is then refused). */
  save: (overlay: Overlay) => void;
  /**
   * Rewrites a value before it is stored, e.g. a plain admin password becomes its pbkdf2 hash
   * (CouchDB hashes admins on write, so the clear text never reaches the file).
   */
  transform?: (section: string, key: string, value: string) => string;
}

export class ConfigStore {
  private base: Sections;
  private overlay: Overlay;
  private values = new Map<string, Map<string, string>>();
  private readonly listeners = new Set<ConfigListener>();

  constructor(private readonly opts: ConfigStoreOptions) {
    this.base = clone(opts.base);
    this.overlay = opts.load();
    this.values = merge(this.base, this.overlay);
  }

  get(section: string, key: string): string | undefined {
    return this.values.get(section)?.get(key);
  }

  /** The keys of one section and their values, sorted by key (CouchDB lists them sorted). */
  section(section: string): Record<string, string> {
    const s = this.values.get(section);
    if (!s) return {};
    return Object.fromEntries([...s.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Every section with a value, sorted. */
  all(): Sections {
    const out: Sections = {};
    for (const name of [...this.values.keys()].sort()) {
      const s = this.section(name);
      if (Object.keys(s).length > 0) out[name] = s;
    }
    return out;
  }

  /** Sets a value; returns the old one, or '' when there was none (what CouchDB answers). */
  set(section: string, key: string, value: string, persist = true): string {
    const problem = validateUpdate(section, key, value);
    if (problem) throw new ConfigRejected(problem);
    const stored = this.opts.transform ? this.opts.transform(section, key, value) : value;
    const old = this.get(section, key) ?? '';
    if (persist) this.persist(section, key, stored);
    this.put(section, key, stored);
    return old;
  }

  /** Deletes a value; returns the old one, or undefined when there was none. */
  delete(section: string, key: string, persist = true): string | undefined {
    const old = this.get(section, key);
    if (old === undefined) return undefined;
    if (persist) this.persist(section, key, null);
    this.put(section, key, undefined);
    return old;
  }

  /**
   * Drops transient changes: the values in effect become the base with the persisted overlay
   * (read again) on top. Subscribers hear each key that changed or went away.
   */
  reload(): void {
    this.overlay = this.opts.load();
    this.replaceAll(merge(this.base, this.overlay));
  }

  /** Changes a start-up value (e.g. the port, known once the node listens); the overlay still wins. */
  setBase(section: string, key: string, value: string): void {
    (this.base[section] ??= {})[key] = value;
    const o = this.overlay[section];
    if (o && key in o) return;
    if (this.get(section, key) !== value) this.put(section, key, value);
  }

  subscribe(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private persist(section: string, key: string, value: string | null): void {
    const next = clone(this.overlay) as Overlay;
    (next[section] ??= {})[key] = value;
    // A deletion of a key the base lacks needs no tombstone.
    if (value === null && this.base[section]?.[key] === undefined) delete next[section]![key];
    if (next[section] && Object.keys(next[section]!).length === 0) delete next[section];
    this.opts.save(next);
    this.overlay = next;
  }

  private put(section: string, key: string, value: string | undefined): void {
    let s = this.values.get(section);
    if (value === undefined) {
      s?.delete(key);
      if (s && s.size === 0) this.values.delete(section);
    } else {
      if (!s) this.values.set(section, (s = new Map()));
      s.set(key, value);
    }
    this.emit({ section, key, value });
  }

  private replaceAll(next: Map<string, Map<string, string>>): void {
    const before = this.values;
    this.values = next;
    for (const [section, keys] of next) {
      for (const [key, value] of keys) if (before.get(section)?.get(key) !== value) this.emit({ section, key, value });
    }
    for (const [section, keys] of before) {
      for (const key of keys.keys()) if (!next.get(section)?.has(key)) this.emit({ section, key, value: undefined });
    }
  }

  private emit(change: ConfigChange): void {
    for (const l of [...this.listeners]) l(change);
  }
}

function clone<T extends Record<string, Record<string, unknown>>>(s: T): T {
  const out = {} as Record<string, Record<string, unknown>>;
  for (const [k, v] of Object.entries(s)) out[k] = { ...v };
  return out as T;
}

function merge(base: Sections, overlay: Overlay): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [section, keys] of Object.entries(base)) out.set(section, new Map(Object.entries(keys)));
  for (const [section, keys] of Object.entries(overlay)) {
    let s = out.get(section);
    for (const [key, value] of Object.entries(keys)) {
      if (value === null) s?.delete(key);
      else {
        if (!s) out.set(section, (s = new Map()));
        s.set(key, value);
      }
    }
    if (s && s.size === 0) out.delete(section);
  }
  return out;
}
