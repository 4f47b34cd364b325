/**
 * Text that comes from users and their files (class folder and file names, descriptions, override reasons, tags,
 * model and run names) written into the studio's Markdown exports (evaluation_report.md, MODEL_CARD.md). A viewer
 * that renders Markdown with raw HTML on (most do) must show such text as typed: never an element, a link, an
 * image, emphasis, a new block or a new table cell. Every piece of such text goes through `mdText` at the place it
 * is written, inline or in a table cell alike.
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/**
 * `s` as one line of literal Markdown text. `<`, `>` and `&` become entities, so no HTML tag, autolink or entity
 * trick survives; the inline markers (`\ \` * _ [ ] | ~`) are backslash-escaped, so no link, image, code span,
 * emphasis or table cell boundary can start; line breaks become spaces and a block marker at the start (`# `, `- `,
 * `+ `, `1. `) is escaped, so no heading, list or HTML block can start where the text begins a line.
 */
export function mdText(s: string | number): string {
  return String(s)
    .replace(/[\r\n\t\f\v\u0085\u2028\u2029]+/g, ' ')
    .trimStart()
    .replace(/[&<>]/g, (c) => ENTITIES[c])
    .replace(/[\\`*_[\]|~]/g, '\\$&')
    .replace(/^(#{1,6}|[+-])(?=\s|$)/, '\\$1')
    .replace(/^(\d{1,9})([.)])(?=\s|$)/, '$1\\$2');
}
