// MD5 (RFC 1321) and SHA-1 (FIPS 180-4) digests, to check data files against the checksums
// their publishers list (MD5 for the IDX .gz files, SHA-1 for the CIFAR .bin files).
// Both hash 64-byte blocks and pad the same way: 0x80, zeros to 56 mod 64, then the
// message length in bits as 64 bits (little-endian for MD5, big-endian for SHA-1).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace bnlab {

enum class DigestKind { md5, sha1 };

class Digest {
public:
    explicit Digest(DigestKind kind);
    void update(std::span<const uint8_t> bytes);
    // Pads, finishes and returns the digest as lowercase hex; the Digest is then spent.
    std::string hex();

private:
    void compress(const uint8_t* block);  // one 64-byte block into state_
    DigestKind kind_;
    std::array<uint32_t, 5> state_{};     // MD5 uses the first 4 words
    std::array<uint8_t, 64> block_{};
    size_t block_used_ = 0;
    uint64_t length_ = 0;  // bytes hashed so far
};

std::string digest_hex(DigestKind kind, std::span<const uint8_t> bytes);
// The digest of a file's bytes as stored (streamed; a .gz file is not decompressed).
// Throws Error naming the path when it cannot be read.
std::string file_digest_hex(DigestKind kind, const std::filesystem::path& path);

}  // namespace bnlab
