// A minimal, deterministic zip writer for the two entries of a key file. Fixed timestamps
// and attributes make identical content give identical bytes on every replica, which is
// what lets a CDN and ETags treat one URL as one file. jszip (used to read zips in
// verify-export and the tests) would hold the whole key file several times over.
import { crc32 } from 'node:zlib';

export interface ZipEntry {
  name: string;
  /** The entry's data as stored: raw deflate (method 8) or as is (method 0). */
  data: Buffer[];
  method: 0 | 8;
  crc: number;
  size: number;
}

// 1980-01-01 00:00:00, the zip epoch: no build time leaks into the bytes.
const DOS_TIME = 0;
const DOS_DATE = (1 << 5) | 1;
const VERSION = 20;

export function storedEntry(name: string, data: Buffer): ZipEntry {
  return { name, data: [data], method: 0, crc: crc32(data), size: data.length };
}

/** The fields local and central headers share, from flags to name length, at `at`. */
function writeEntryFields(header: Buffer, at: number, entry: ZipEntry, compressedSize: number, nameLength: number): void {
  header.writeUInt16LE(0, at); // flags
  header.writeUInt16LE(entry.method, at + 2);
  header.writeUInt16LE(DOS_TIME, at + 4);
  header.writeUInt16LE(DOS_DATE, at + 6);
  header.writeUInt32LE(entry.crc >>> 0, at + 8);
  header.writeUInt32LE(compressedSize, at + 12);
  header.writeUInt32LE(entry.size, at + 16);
  header.writeUInt16LE(nameLength, at + 20);
}

export function zip(entries: ZipEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const compressedSize = entry.data.reduce((n, b) => n + b.length, 0);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(VERSION, 4);
    writeEntryFields(local, 6, entry, compressedSize, name.length);

    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(VERSION, 4);
    header.writeUInt16LE(VERSION, 6);
    writeEntryFields(header, 8, entry, compressedSize, name.length);
    // extra length, comment length, disk, internal and external attributes: all zero
    header.writeUInt32LE(offset, 42);
    central.push(header, name);

    parts.push(local, name, ...entry.data);
    offset += local.length + name.length + compressedSize;
  }
  const centralSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}
