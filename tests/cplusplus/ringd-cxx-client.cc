// SPDX-License-Identifier: MIT
/*
 * ringd-cxx-client: <ringd.h> from C++. Built as C++11 by the C++ compiler
 * (g++ next to gcc), linked against libringd, and run by the integration
 * suite (cli::cplusplus_client_writes_and_reads_back) as a tenant of a
 * real daemon.
 *
 *	ringd-cxx-client VOLUME OFFSET
 *
 * Writes 4 KiB of pattern() at OFFSET, reads them back into a zeroed
 * buffer and compares. Exit 0 when the bytes match, 1 otherwise (with the
 * reason on stderr). The socket comes from $RINGD_SOCKET.
 */
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ringd.h>

// The ABI is the C one: the same sizes and offsets under C++.
static_assert(sizeof(ringd_sqe) == 64, "ringd_sqe");
static_assert(sizeof(ringd_cqe) == 16, "ringd_cqe");
static_assert(sizeof(ringd_shm_hdr) == 320, "ringd_shm_hdr");
static_assert(offsetof(ringd_shm_hdr, cq_head) == 256, "ringd_shm_hdr");

namespace {

constexpr unsigned int block = 4096;

// Byte @i of the pattern; tests/integration/test_cli.c checks the backing
// file against the same formula.
constexpr uint8_t pattern(unsigned int i)
{
	return static_cast<uint8_t>(i * 7u + 13u);
}

struct failure {
	std::string what;
	int err;
};

// One session, disconnected when it goes out of scope.
class session {
      public:
	session()
	{
		ringd_opts opts = {};

		opts.sq_entries = 4;
		opts.buf_size = 64 * 1024;
		int ret = ringd_connect(&opts, &rd_);
		if (ret)
			throw failure{ "connect", ret };
	}
	~session()
	{
		ringd_disconnect(rd_);
	}
	session(const session &) = delete;
	session &operator=(const session &) = delete;

	int open(const std::string &volume)
	{
		ringd_volume_info info = {};
		int h = ringd_open(rd_, volume.c_str(), RINGD_RDWR, &info);

		if (h < 0)
			throw failure{ "open " + volume, h };
		return h;
	}

	uint8_t *buffer(size_t len)
	{
		void *p = ringd_buf_alloc(rd_, len, block);

		if (!p)
			throw failure{ "ringd_buf_alloc", -ENOMEM };
		return static_cast<uint8_t *>(p);
	}

	// One request to completion; returns cqe->res.
	int io(bool write, int h, uint8_t *buf, unsigned int len, uint64_t off)
	{
		ringd_sqe *sqe = ringd_get_sqe(rd_);
		ringd_cqe *cqe = nullptr;

		if (!sqe)
			throw failure{ "ringd_get_sqe", -EBUSY };
		if (write)
			ringd_prep_write(sqe, h, buf, len, off);
		else
			ringd_prep_read(sqe, h, buf, len, off);
		ringd_sqe_set_data64(sqe, off);
		int ret = ringd_submit_and_wait(rd_, 1);
		if (ret < 0)
			throw failure{ "submit", ret };
		ret = ringd_wait_cqe(rd_, &cqe);
		if (ret)
			throw failure{ "wait", ret };
		if (ringd_cqe_get_data64(cqe) != off)
			throw failure{ "completion for another request", -EIO };
		ret = cqe->res;
		ringd_cqe_seen(rd_, cqe);
		return ret;
	}

      private:
	ringd *rd_ = nullptr;
};

} // namespace

int main(int argc, char **argv)
{
	if (argc != 3) {
		std::fprintf(stderr, "usage: ringd-cxx-client VOLUME OFFSET\n");
		return 2;
	}
	const std::string volume = argv[1];
	const uint64_t off = std::strtoull(argv[2], nullptr, 0);

	try {
		session s;
		int h = s.open(volume);
		uint8_t *buf = s.buffer(block);
		std::vector<uint8_t> want(block);

		for (unsigned int i = 0; i < block; i++)
			want[i] = buf[i] = pattern(i);
		int ret = s.io(true, h, buf, block, off);
		if (ret != static_cast<int>(block))
			throw failure{ "write", ret < 0 ? ret : -EIO };
		std::memset(buf, 0, block);
		ret = s.io(false, h, buf, block, off);
		if (ret != static_cast<int>(block))
			throw failure{ "read", ret < 0 ? ret : -EIO };
		if (std::memcmp(buf, want.data(), block))
			throw failure{ "read back differs from what was written", -EIO };
	} catch (const failure &f) {
		const char *why = ringd_last_message();

		std::fprintf(stderr, "ringd-cxx-client: %s: %s%s%s%s\n", f.what.c_str(),
			     std::strerror(-f.err), *why ? " (" : "", why, *why ? ")" : "");
		return 1;
	}
	std::printf("ringd-cxx-client: wrote and read back %u bytes at %llu of %s\n", block,
		    static_cast<unsigned long long>(off), volume.c_str());
	return 0;
}
