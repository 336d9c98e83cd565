// A number as a person types it in the start form: "0.5" always, "0,5" where the browser's language writes a decimal
// comma. The fields were `type="number"`, which drop a comma whatever the language: a German user's cost limit
// "0,5" was sent as 5 US$, ten times the limit meant, and "1,5" iterations as 15.

/** Digits grouped by thousands with points ("1.000", "12.500.000"): a thousands separator where a comma is decimal. */
const GROUPED = /^[+-]?[1-9]\d{0,2}(\.\d{3})+$/;
const PLAIN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Whether `language` (a BCP 47 tag, `navigator.language`) writes 1.5 as "1,5". */
export function decimalComma(language) {
  try {
    const parts = new Intl.NumberFormat(language).formatToParts(1.5);
    return parts.some((part) => part.type === "decimal" && part.value === ",");
  } catch {
    return false; // (an odd language tag: the page's own way, a decimal point)
  }
}

/**
 * The value of `raw` (trimmed, not empty), or an Error whose message says what is wrong with it. A decimal comma is
 * read as a point in a language that writes one (`comma`), and refused elsewhere, as is any thousands separator:
 * "1,000" is 1000 to some and 1 to others, and a cost limit read the wrong way is a thousand times off. Where the
 * comma is decimal, "1.000" (a point before each group of three digits) is a thousand, and refused likewise.
 */
export function readNumber(raw, { comma }) {
  if (comma && GROUPED.test(raw)) {
    // (in such a language "1.000" is a thousand: read as 1, a cost limit of a thousand dollars was sent as one)
    return new Error(
      `"${raw}" is not a number: write it with a decimal comma ("1,5") and no thousands separator ("1000").`,
    );
  }
  const text = comma && /^[^.,]*,[^.,]*$/.test(raw) ? raw.replace(",", ".") : raw;
  if (text.includes(",")) {
    const how = comma ? 'a decimal comma or point ("0,5" or "0.5")' : 'a decimal point ("0.5")';
    return new Error(`"${raw}" is not a number: write it with ${how} and no thousands separator.`);
  }
  if (!PLAIN.test(text)) return new Error(`"${raw}" is not a number.`);
  const value = Number(text);
  return Number.isFinite(value) ? value : new Error(`"${raw}" is not a number.`);
}
