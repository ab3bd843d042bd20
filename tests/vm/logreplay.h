/* SPDX-License-Identifier: MIT */
/*
 * A reader of the dm-log-writes log format (drivers/md/dm-log-writes.c,
 * WRITE_LOG_VERSION 1), for the power-loss case of the VM suite
 * (vm_powerloss.c).
 *
 * The log device holds a super block (struct lr_super) in its first
 * sector of `sectorsize` bytes (the data device's logical block size),
 * then the entries in the order the target logged them, each one sector
 * of metadata (struct lr_entry, then for a mark its text) followed, unless
 * it is a discard, by nr_sectors sectors of the data written. `sector` and
 * `nr_sectors` count sectors of `sectorsize` bytes. A write is logged when
 * it completes, and only once a flush that was submitted after it
 * completes (or at the target's removal); a flush (LR_FLUSH) once it
 * completes, after the writes it covers; a FUA write as soon as it
 * completes; a user mark (`dmsetup message ... mark TEXT`, LR_MARK) when
 * the message arrives.
 */
#ifndef RINGD_TEST_LOGREPLAY_H
#define RINGD_TEST_LOGREPLAY_H

#include <stddef.h>
#include <stdint.h>

#define LR_FLUSH    (1u << 0)
#define LR_FUA	    (1u << 1)
#define LR_DISCARD  (1u << 2)
#define LR_MARK	    (1u << 3)
#define LR_METADATA (1u << 4)

#define LR_MAGIC   0x6a736677736872ull
#define LR_VERSION 1u

/* On-disk, little endian (the guest is x86-64). */
struct lr_super {
	uint64_t magic;
	uint64_t version;
	uint64_t nr_entries;
	uint32_t sectorsize;
} __attribute__((packed));

struct lr_disk_entry {
	uint64_t sector;
	uint64_t nr_sectors;
	uint64_t flags;
	uint64_t data_len;
} __attribute__((packed));

/* One parsed entry: byte range on the data device, its data in the log. */
struct lr_entry {
	uint64_t flags;
	uint64_t off;	     /* bytes */
	uint64_t len;	     /* bytes (0 for flushes and marks) */
	const uint8_t *data; /* len bytes inside the log buffer; NULL for discards */
	char mark[64];	     /* a mark's text, NUL-terminated */
};

struct lr_log {
	uint32_t sectorsize;
	uint64_t nr_entries; /* from the super block */
	struct lr_entry *e;
	size_t n;
};

/*
 * Parse the log in @buf (@len bytes read from the start of the log
 * device). Returns 0, or -EINVAL with a reason in @why (bad magic or
 * version, an entry running past @len, a sector size that is not a power
 * of two of at least 512). Entries are read up to the super block's
 * nr_entries. Free with lr_free().
 */
int lr_parse(const uint8_t *buf, size_t len, struct lr_log *log, char *why, size_t whylen);
void lr_free(struct lr_log *log);

/* Apply entry @e (a write or a discard; flushes and marks carry no data)
 * to @image of @imglen bytes. Returns 0, or -ERANGE past its end. */
int lr_apply(const struct lr_entry *e, uint8_t *image, size_t imglen);

#endif
