/**
 * The one lexer of the migrations wing: walks SQL text the way SQLite reads it,
 * skipping -- and /* comments and stepping over quoted tokens ('strings',
 * "names", `names` and [names], a doubled quote inside being an escaped one).
 * The statement splitter (split.ts) and the double-quoted-name guard
 * (quoted-names.ts) each see only what they need of it.
 */
export type SqlToken =
  /** A quoted token from `start` to `end` (exclusive), its opening quote in `quote`. */
  | { kind: "quoted"; quote: "'" | '"' | "`" | "["; start: number; end: number }
  /** A `;` outside comments and quotes, at `at`. */
  | { kind: "semicolon"; at: number };

export function* scanSql(text: string): Generator<SqlToken> {
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text[i]!;
    if (ch === "-" && text[i + 1] === "-") {
      const end = text.indexOf("\n", i);
      i = end === -1 ? n : end + 1;
    } else if (ch === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end === -1 ? n : end + 2;
    } else if (ch === "'" || ch === '"' || ch === "`" || ch === "[") {
      const end = closingQuote(text, i);
      yield { kind: "quoted", quote: ch, start: i, end };
      i = end;
    } else if (ch === ";") {
      yield { kind: "semicolon", at: i };
      i += 1;
    } else {
      i += 1;
    }
  }
}

/** Where the quoted token opened at `open` ends (exclusive); the text's end when it never closes. */
function closingQuote(text: string, open: number): number {
  const close = text[open] === "[" ? "]" : text[open]!;
  let j = open + 1;
  for (;;) {
    const end = text.indexOf(close, j);
    if (end === -1) return text.length;
    // A doubled quote is an escaped quote inside the token ([names] have no escape).
    if (close !== "]" && text[end + 1] === close) {
      j = end + 2;
      continue;
    }
    return end + 1;
  }
}
