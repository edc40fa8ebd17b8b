// Replacing what names a person inside text that must otherwise stay (history rows, JSON data,
// headers of mail we keep a record of): every occurrence of the address, the names and the other
// strings given (old subjects, Message-IDs), compared ignoring case, becomes its replacement. JSON
// is walked value by value, so a replacement never breaks the document; bytes are treated as
// latin1, so a mail's other bytes stay exactly as they were.

interface Needle {
  find: string;
  replace: string;
}

/** Names shorter than this are not searched for in free text: "Al" would mangle every "also". */
const MIN_NAME = 3;

export class Scrubber {
  private readonly needles: Needle[] = [];
  private pattern: RegExp | null = null;

  /** An exact string (an address, a Message-ID, a subject) and what replaces it. */
  add(find: string | null | undefined, replace: string): this {
    const f = find?.trim();
    if (!f || this.needles.some((n) => n.find.toLowerCase() === f.toLowerCase())) return this;
    this.needles.push({ find: f, replace });
    this.pattern = null;
    return this;
  }

  /** A person's name: searched for only when long enough to be told apart from ordinary words. */
  addName(name: string | null | undefined, replace: string): this {
    if (name && name.trim().length >= MIN_NAME) this.add(name, replace);
    return this;
  }

  private regex(): RegExp | null {
    if (this.needles.length === 0) return null;
    // Longest first, so an address is replaced whole before a name inside it.
    const sorted = [...this.needles].sort((a, b) => b.find.length - a.find.length);
    this.pattern ??= new RegExp(sorted.map((n) => n.find.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gi');
    return this.pattern;
  }

  private replacementOf(match: string): string {
    const lower = match.toLowerCase();
    return this.needles.find((n) => n.find.toLowerCase() === lower)?.replace ?? '[erased]';
  }

  text(value: string): string;
  text(value: string | null): string | null;
  text(value: string | null): string | null {
    const re = this.regex();
    if (value === null || !re) return value;
    return value.replace(re, (m) => this.replacementOf(m));
  }

  /** A JSON column: every string inside (keys too) scrubbed; text that is not JSON is scrubbed as text. */
  json(value: string | null): string | null {
    if (value === null) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return this.text(value);
    }
    return JSON.stringify(this.walk(parsed));
  }

  private walk(v: unknown): unknown {
    if (typeof v === 'string') return this.text(v);
    if (Array.isArray(v)) return v.map((x) => this.walk(x));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [this.text(k), this.walk(x)]));
    return v;
  }

  /** Raw bytes (a mail): replaced as latin1, every other byte unchanged. */
  bytes(value: Buffer): Buffer {
    return Buffer.from(this.text(Buffer.from(value).toString('latin1')), 'latin1');
  }

  /** Whether the text still holds any needle. */
  finds(value: string | null): boolean {
    const re = this.regex();
    if (value === null || !re) return false;
    re.lastIndex = 0;
    const hit = re.test(value);
    re.lastIndex = 0;
    return hit;
  }
}
