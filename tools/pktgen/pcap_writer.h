// Minimal writer for the classic libpcap file format (magic 0xa1b2c3d4, version 2.4, LINKTYPE_ETHERNET).
//
// Use it when a tool must write millions of frames quickly: it is a buffered stdio stream with a
// 16-byte record header per frame, no libpcap dependency and no per-packet allocation. The format is
// the one documented in pcap-savefile(5); DPDK's net_pcap PMD and tcpdump read it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>

namespace lb::pktgen {

class PcapWriter {
 public:
  static constexpr uint32_t kMagicMicroseconds = 0xa1b2c3d4;
  static constexpr uint32_t kLinktypeEthernet = 1;
  static constexpr uint32_t kSnapLenBytes = 65535;
  static constexpr size_t kStreamBufferBytes = 4u << 20;

  // Opens (truncates) `path`; ok() reports whether it and the file header were written.
  explicit PcapWriter(const std::string& path)
      : file_(std::fopen(path.c_str(), "wb")), buffer_(new char[kStreamBufferBytes]) {
    if (!file_) return;
    std::setvbuf(file_, buffer_.get(), _IOFBF, kStreamBufferBytes);
    // Native byte order: readers detect it from the magic number. Layout per pcap-savefile(5):
    // u32 magic, u16 version_major, u16 version_minor, i32 thiszone, u32 sigfigs, u32 snaplen, u32 linktype.
    const uint32_t magic = kMagicMicroseconds;
    const uint16_t version[2] = {2, 4};
    const uint32_t rest[4] = {0, 0, kSnapLenBytes, kLinktypeEthernet};
    ok_ = std::fwrite(&magic, sizeof(magic), 1, file_) == 1 && std::fwrite(version, sizeof(version), 1, file_) == 1 &&
          std::fwrite(rest, sizeof(rest), 1, file_) == 1;
  }

  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  ~PcapWriter() { close(); }

  bool ok() const { return ok_; }

  // Appends one frame with timestamp `ts_us` (microseconds since the epoch).
  void write(std::span<const uint8_t> frame, uint64_t ts_us) {
    if (!ok_) return;
    const uint32_t record[4] = {static_cast<uint32_t>(ts_us / 1000000), static_cast<uint32_t>(ts_us % 1000000),
                                static_cast<uint32_t>(frame.size()), static_cast<uint32_t>(frame.size())};
    ok_ = std::fwrite(record, sizeof(record), 1, file_) == 1 &&
          std::fwrite(frame.data(), 1, frame.size(), file_) == frame.size();
  }

  // Flushes and closes; returns false if any write (including the final flush) failed.
  bool close() {
    if (file_) {
      ok_ = (std::fclose(file_) == 0) && ok_;
      file_ = nullptr;
    }
    return ok_;
  }

 private:
  std::FILE* file_;
  std::unique_ptr<char[]> buffer_;
  bool ok_ = false;
};

}  // namespace lb::pktgen
