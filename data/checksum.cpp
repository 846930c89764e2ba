#include "data/checksum.h"

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <vector>

#include "core/error.h"

namespace bnlab {

namespace {

uint32_t load_little_endian(const uint8_t* p) {
    return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
uint32_t load_big_endian(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// MD5's additive constants: K[i] = floor(|sin(i + 1)| * 2^32), exact in double precision.
std::array<uint32_t, 64> md5_constants() {
    std::array<uint32_t, 64> k{};
    for (size_t i = 0; i < 64; ++i)
        k[i] = static_cast<uint32_t>(std::floor(std::fabs(std::sin(static_cast<double>(i + 1))) * 4294967296.0));
    return k;
}

void md5_compress(std::array<uint32_t, 5>& state, const uint8_t* block) {
    static const std::array<uint32_t, 64> k = md5_constants();
    static constexpr int shifts[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};
    uint32_t m[16];
    for (int i = 0; i < 16; ++i) m[i] = load_little_endian(block + 4 * i);
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    for (int i = 0; i < 64; ++i) {
        const int round = i / 16;
        uint32_t f = 0;
        int g = 0;
        if (round == 0) f = (b & c) | (~b & d), g = i;
        else if (round == 1) f = (d & b) | (~d & c), g = (5 * i + 1) % 16;
        else if (round == 2) f = b ^ c ^ d, g = (3 * i + 5) % 16;
        else f = c ^ (b | ~d), g = (7 * i) % 16;
        f += a + k[static_cast<size_t>(i)] + m[g];
        a = d;
        d = c;
        c = b;
        b += std::rotl(f, shifts[round][i % 4]);
    }
    state[0] += a, state[1] += b, state[2] += c, state[3] += d;
}

void sha1_compress(std::array<uint32_t, 5>& state, const uint8_t* block) {
    uint32_t w[80];
    for (int t = 0; t < 16; ++t) w[t] = load_big_endian(block + 4 * t);
    for (int t = 16; t < 80; ++t) w[t] = std::rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4];
    for (int t = 0; t < 80; ++t) {
        uint32_t f = 0, k = 0;
        if (t < 20) f = (b & c) | (~b & d), k = 0x5a827999u;
        else if (t < 40) f = b ^ c ^ d, k = 0x6ed9eba1u;
        else if (t < 60) f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdcu;
        else f = b ^ c ^ d, k = 0xca62c1d6u;
        const uint32_t next = std::rotl(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = std::rotl(b, 30);
        b = a;
        a = next;
    }
    state[0] += a, state[1] += b, state[2] += c, state[3] += d, state[4] += e;
}

}  // namespace

Digest::Digest(DigestKind kind) : kind_(kind) {
    state_ = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};  // shared by both
}

void Digest::compress(const uint8_t* block) {
    if (kind_ == DigestKind::md5) md5_compress(state_, block);
    else sha1_compress(state_, block);
}

void Digest::update(std::span<const uint8_t> bytes) {
    if (bytes.empty()) return;  // (its data() may be null, which memcpy must not see)
    length_ += bytes.size();
    size_t i = 0;
    if (block_used_ > 0) {  // fill the partial block first
        const size_t take = std::min(bytes.size(), 64 - block_used_);
        std::memcpy(block_.data() + block_used_, bytes.data(), take);
        block_used_ += take;
        i = take;
        if (block_used_ < 64) return;
        compress(block_.data());
        block_used_ = 0;
    }
    for (; i + 64 <= bytes.size(); i += 64) compress(bytes.data() + i);
    std::memcpy(block_.data(), bytes.data() + i, bytes.size() - i);
    block_used_ = bytes.size() - i;
}

std::string Digest::hex() {
    const uint64_t bit_length = length_ * 8;
    std::array<uint8_t, 72> padding{};
    padding[0] = 0x80;
    const size_t pad = (block_used_ < 56 ? 56 : 120) - block_used_;
    for (int i = 0; i < 8; ++i) {
        const int shift = kind_ == DigestKind::md5 ? 8 * i : 8 * (7 - i);
        padding[pad + static_cast<size_t>(i)] = static_cast<uint8_t>(bit_length >> shift);
    }
    update({padding.data(), pad + 8});
    const int words = kind_ == DigestKind::md5 ? 4 : 5;
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text;
    for (int w = 0; w < words; ++w)
        for (int i = 0; i < 4; ++i) {
            const int shift = kind_ == DigestKind::md5 ? 8 * i : 8 * (3 - i);
            const auto byte = static_cast<uint8_t>(state_[static_cast<size_t>(w)] >> shift);
            text += kHex[byte >> 4];
            text += kHex[byte & 15];
        }
    return text;
}

std::string digest_hex(DigestKind kind, std::span<const uint8_t> bytes) {
    Digest digest(kind);
    digest.update(bytes);
    return digest.hex();
}

std::string file_digest_hex(DigestKind kind, const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path.string() + ": cannot open: " + std::strerror(errno));
    Digest digest(kind);
    std::vector<uint8_t> chunk(1 << 20);
    while (in) {
        in.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
        digest.update({chunk.data(), static_cast<size_t>(in.gcount())});
    }
    if (in.bad()) throw Error(path.string() + ": read error");
    return digest.hex();
}

}  // namespace bnlab
