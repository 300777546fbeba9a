/**
 * A mapping of ring memory: one of the kernel's regions (SQ ring, CQ ring, SQE array) or
 * memory the library maps itself for `IORING_SETUP_NO_MMAP`.
 *
 * Two ways to end:
 * - {@link Region.unmap}: for memory no view outside the ring ever saw (the kernel's
 *   regions; a NO_MMAP region whose setup failed). Unmapping happens exactly once;
 *   afterwards `buffer()` throws instead of returning memory that would SIGSEGV.
 * - {@link Region.retire}: for library memory whose views were handed to builders (SQEs
 *   written in place). Views of a `koffi.view` ArrayBuffer can outlive anything we do, and
 *   reading them after `munmap` kills the process. So the pages are replaced by fresh zero
 *   pages at the same address (the kernel keeps the old ones it pinned, and writes that it
 *   still makes while it tears the ring down land there), and the range is unmapped only
 *   once the ArrayBuffer itself has been garbage-collected, when no view can exist.
 *
 * @module
 */
import {
  replaceWithZeroPages,
  externalView,
  MAP_ANONYMOUS,
  MAP_HUGETLB,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  mmapRegion,
  munmapRegion,
  PROT_READ,
  PROT_WRITE,
} from '../sys/libc.js';

/** One mapped range of memory. */
export class Region {
  /** Native address of the first byte. */
  readonly address: number;
  /** Bytes mapped. */
  readonly length: number;
  /** What the mapping is, for error messages and `describe()`. */
  readonly label: string;
  /** Whether the pages are huge pages (MAP_HUGETLB). */
  readonly hugePages: boolean;
  #buffer: ArrayBuffer | null;

  private constructor(address: number, length: number, label: string, hugePages: boolean) {
    this.address = address;
    this.length = length;
    this.label = label;
    this.hugePages = hugePages;
    this.#buffer = externalView(address, length);
  }

  /**
   * Maps `length` bytes of the ring `fd` at the kernel's magic `offset`
   * (`IORING_OFF_SQ_RING`, `IORING_OFF_CQ_RING`, `IORING_OFF_SQES`, ...), shared and
   * populated so the kernel never takes a fault on it.
   */
  static mapRing(fd: number, offset: number, length: number, label: string): Region {
    const address = mmapRegion(length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, offset);
    return Region.adopt(address, length, label, false);
  }

  /**
   * Maps anonymous, populated memory for `IORING_SETUP_NO_MMAP` (and buffer rings).
   * With `hugePages`, asks for `MAP_HUGETLB`; `length` must then be a multiple of the
   * huge page size, and the call fails with ENOMEM when none are reserved.
   */
  static mapAnonymous(length: number, label: string, hugePages = false): Region {
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | (hugePages ? MAP_HUGETLB : 0);
    const address = mmapRegion(length, PROT_READ | PROT_WRITE, flags, -1, 0);
    return Region.adopt(address, length, label, hugePages);
  }

  private static adopt(address: number, length: number, label: string, hugePages: boolean): Region {
    try {
      return new Region(address, length, label, hugePages);
    } catch (err) {
      munmapRegion(address, length);
      throw err;
    }
  }

  /** Whether the memory is still mapped. */
  get mapped(): boolean {
    return this.#buffer !== null;
  }

  /**
   * The memory as an ArrayBuffer, for the ring's private views only.
   * Throws once unmapped, so no new view can be made over dead memory.
   */
  buffer(): ArrayBuffer {
    if (this.#buffer === null) throw new Error(`${this.label}: region already unmapped`);
    return this.#buffer;
  }

  /** Unmaps the memory. Idempotent: the first call unmaps, later calls do nothing. */
  unmap(): void {
    if (this.#buffer === null) return;
    this.#buffer = null;
    munmapRegion(this.address, this.length);
  }

  /**
   * Ends memory whose views may have escaped (see the module comment): zero pages now,
   * `munmap` once the ArrayBuffer is collected. Idempotent.
   */
  retire(): void {
    const buffer = this.#buffer;
    if (buffer === null) return;
    this.#buffer = null;
    replaceWithZeroPages(this.address, this.length);
    unmapWhenCollected.register(buffer, { address: this.address, length: this.length });
  }
}

/** Unmaps a retired region once its ArrayBuffer (and so every view over it) is gone. */
const unmapWhenCollected = new FinalizationRegistry<{ address: number; length: number }>(({ address, length }) => {
  try {
    munmapRegion(address, length);
  } catch {
    /* nothing to report to; the range stays mapped */
  }
});
