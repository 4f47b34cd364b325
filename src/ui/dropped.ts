/** Files of a drop, folders walked with the entries API (works in every browser that supports folder drops). */

export interface DroppedFiles {
  files: File[];
  /** Relative paths, parallel to files: the folder's name first. */
  paths: string[];
}

export async function entriesOf(entry: FileSystemEntry, prefix: string, out: DroppedFiles): Promise<void> {
  const path = prefix ? `${prefix}/${entry.name}` : entry.name;
  if (entry.isFile) {
    const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
    out.files.push(file);
    out.paths.push(path);
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries returns at most ~100 entries per call: read until it returns none.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
    if (batch.length === 0) break;
    for (const child of batch) await entriesOf(child, path, out);
  }
}
