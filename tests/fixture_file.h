// Reading the PyTorch fixtures under tests/fixtures/ (written by the scripts there).
// Exact doubles travel in a file's metadata as Python reprs, which std::from_chars reads back
// to the same double.
#pragma once

#include <catch2/catch.hpp>
#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

#include "core/safetensors.h"

namespace bnlab::testing {

inline TensorFile read_fixture(const std::string& name) {
    return read_safetensors(std::string(BNLAB_SOURCE_DIR) + "/tests/fixtures/" + name);
}

inline double parse_number(const std::string& text) {
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    REQUIRE(error == std::errc());
    REQUIRE(end == text.data() + text.size());
    return value;
}

// The metadata entry `key` as a number; fails the test if absent or not a number.
inline double metadata_number(const TensorFile& file, const std::string& key) {
    INFO(file.source << ": metadata " << key);
    REQUIRE(file.metadata.count(key));
    return parse_number(file.metadata.at(key));
}

// A Python bool repr ("True" / "False").
inline bool metadata_flag(const TensorFile& file, const std::string& key) {
    INFO(file.source << ": metadata " << key);
    REQUIRE(file.metadata.count(key));
    const std::string& text = file.metadata.at(key);
    REQUIRE((text == "True" || text == "False"));
    return text == "True";
}

// A comma-separated list of numbers.
inline std::vector<double> metadata_numbers(const TensorFile& file, const std::string& key) {
    INFO(file.source << ": metadata " << key);
    REQUIRE(file.metadata.count(key));
    const std::string& text = file.metadata.at(key);
    std::vector<double> values;
    for (size_t begin = 0; begin <= text.size();) {
        const size_t end = std::min(text.find(',', begin), text.size());
        values.push_back(parse_number(text.substr(begin, end - begin)));
        begin = end + 1;
    }
    return values;
}

}  // namespace bnlab::testing
