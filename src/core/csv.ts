/** RFC 4180 CSV, as every file the studio writes for spreadsheets uses it. */

export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** A header row and the rows, each field quoted where it must be, CRLF line ends. */
export function csvText(header: string[], rows: string[][]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}
