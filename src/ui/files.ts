/** Files out of and into the page: downloads, a picked folder to write into, a picked folder or zip to read. */
import type { ExportedFile } from '../engine/types';

/** Starts a download of `data` as `name` (an anchor click: the one way a page saves a file everywhere). */
export function saveFile(name: string, data: Uint8Array | string, type: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([data as BlobPart], { type }));
  a.download = name;
  a.click();
  // Revoked a moment later: some browsers read the URL after click() returns.
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/** The File System Access folder picker exists (Chrome, Edge); elsewhere the studio offers a zip. */
export const canPickFolder = (): boolean => typeof (window as { showDirectoryPicker?: unknown }).showDirectoryPicker === 'function';

type Picker = (opts: { mode: 'readwrite' | 'read'; id?: string }) => Promise<FileSystemDirectoryHandle>;
const picker = (): Picker => (window as unknown as { showDirectoryPicker: Picker }).showDirectoryPicker;

/** Writes the files into a new sub-folder `folder` of a folder the user picks; returns where they went. */
export async function writeToPickedFolder(folder: string, files: ExportedFile[]): Promise<string> {
  const parent = await picker()({ mode: 'readwrite', id: 'mri-studio-export' });
  const dir = await parent.getDirectoryHandle(folder, { create: true });
  for (const f of files) {
    const writable = await (await dir.getFileHandle(f.name, { create: true })).createWritable();
    await writable.write(f.bytes as BufferSource);
    await writable.close();
  }
  return `${parent.name}/${folder}`;
}

/** Every file of a folder the user picks (top level: an exported model folder is flat). */
export async function readPickedFolder(): Promise<{ folder: string; files: ExportedFile[] }> {
  const dir = await picker()({ mode: 'read', id: 'mri-studio-export' });
  const files: ExportedFile[] = [];
  for await (const entry of (dir as unknown as { values(): AsyncIterable<FileSystemHandle> }).values()) {
    if (entry.kind === 'file') files.push({ name: entry.name, bytes: new Uint8Array(await (await (entry as FileSystemFileHandle).getFile()).arrayBuffer()) });
  }
  return { folder: dir.name, files };
}

/** Files from an `<input type=file>` (a folder with webkitdirectory, or one zip), with their bytes. */
export async function readInputFiles(list: FileList | null): Promise<{ folder: string; files: ExportedFile[] }> {
  const picked = Array.from(list ?? []);
  const folder = picked[0]?.webkitRelativePath.split('/')[0] || picked[0]?.name || '';
  const files = await Promise.all(picked.map(async (f) => ({ name: f.webkitRelativePath || f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
  return { folder, files };
}
