#include "core/collective.h"

#include <cstdint>

namespace bnlab {

std::vector<std::vector<std::byte>> all_gather(Collective& group, std::span<const std::byte> bytes) {
    std::vector<std::vector<std::byte>> parts = group.gather(bytes, 0);
    // Rank 0 sends the sizes first (every rank must pass a span of the same length), then the bytes.
    std::vector<uint64_t> sizes(static_cast<size_t>(group.size()));
    if (group.rank() == 0)
        for (size_t r = 0; r < parts.size(); ++r) sizes[r] = parts[r].size();
    group.broadcast(std::as_writable_bytes(std::span(sizes)), 0);
    parts.resize(sizes.size());
    for (size_t r = 0; r < sizes.size(); ++r) {
        parts[r].resize(sizes[r]);
        group.broadcast(std::span(parts[r]), 0);
    }
    return parts;
}

}  // namespace bnlab
