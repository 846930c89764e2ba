// Tensor storage, views, factories, element access, the RNG and safetensors files.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/ops.h"
#include "core/random.h"
#include "core/safetensors.h"
#include "core/tensor.h"

using namespace bnlab;

TEST_CASE("factories fill shapes with the requested values", "[tensor]") {
    Tensor z = Tensor::zeros({2, 3});
    CHECK(z.shape() == Shape{2, 3});
    CHECK(z.numel() == 6);
    for (float v : z.values()) CHECK(v == 0.0f);
    Tensor f = Tensor::full({4}, 2.5f);
    for (float v : f.values()) CHECK(v == 2.5f);
    CHECK(Tensor::ones({3, 1}).to_vector() == std::vector<float>{1, 1, 1});
    Tensor s = Tensor::scalar(7.0f);
    CHECK(s.ndim() == 0);
    CHECK(s.item() == 7.0f);
    Tensor v = Tensor::from_vector({2, 2}, {1, 2, 3, 4});
    CHECK(v.at({1, 0}) == 3.0f);
    CHECK_THROWS_WITH(Tensor::from_vector({2, 2}, {1, 2, 3}), Catch::Contains("3 values do not fill shape (2,2)"));
}

TEST_CASE("storage is 64-byte aligned", "[tensor]") {
    for (int64_t n : {1, 3, 17, 1000}) {
        Tensor t = Tensor::empty({n});
        CHECK(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
    }
}

TEST_CASE("element access is bounds-checked and row-major", "[tensor]") {
    Tensor t = Tensor::zeros({2, 3, 4});
    t.at({1, 2, 3}) = 5.0f;
    CHECK(t.data()[1 * 12 + 2 * 4 + 3] == 5.0f);
    CHECK_THROWS_WITH(t.at({2, 0, 0}), Catch::Contains("out of range for shape (2,3,4)"));
    CHECK_THROWS_AS(t.at({0, 0}), ShapeError);
    CHECK_THROWS_WITH(t.item(), Catch::Contains("24 elements, not 1"));
}

TEST_CASE("reshape and flatten are views sharing storage", "[tensor]") {
    Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
    Tensor y = x.reshape({3, -1});
    CHECK(y.shape() == Shape{3, 2});
    CHECK(y.data() == x.data());
    y.at({0, 1}) = 42.0f;
    CHECK(x.at({0, 1}) == 42.0f);
    Tensor img = Tensor::zeros({4, 3, 5, 5});
    CHECK(img.flatten().shape() == Shape{4, 75});
    CHECK(img.flatten(0).shape() == Shape{300});
    CHECK(img.flatten().data() == img.data());
    CHECK_THROWS_WITH(x.reshape({4, -1}), Catch::Contains("cannot view (2,3) (6 elements) as (4,-1)"));
    CHECK_THROWS_WITH(x.reshape({-1, -1}), Catch::Contains("more than one -1"));
    CHECK_THROWS_WITH(x.reshape({5}), Catch::Contains("cannot view (2,3)"));
}

TEST_CASE("clone copies, detach shares", "[tensor]") {
    Tensor x = Tensor::from_vector({3}, {1, 2, 3});
    Tensor c = x.clone();
    Tensor d = x.detach();
    x.data()[0] = 9.0f;
    CHECK(c.data()[0] == 1.0f);
    CHECK(d.data()[0] == 9.0f);
    CHECK_FALSE(d.requires_grad());
}

TEST_CASE("Generator streams are reproducible and independent", "[tensor][random]") {
    Generator a(42), b(42), c(43), s1(42, 1);
    std::vector<uint32_t> va, vb, vc, vs;
    for (int i = 0; i < 100; ++i) {
        va.push_back(a.next_u32());
        vb.push_back(b.next_u32());
        vc.push_back(c.next_u32());
        vs.push_back(s1.next_u32());
    }
    CHECK(va == vb);
    CHECK(va != vc);
    CHECK(va != vs);
    // fork depends on the seed, not on how far the parent has advanced.
    Generator p(7), q(7);
    for (int i = 0; i < 10; ++i) q.next_u32();
    CHECK(p.fork(3).next_u32() == q.fork(3).next_u32());
    CHECK(p.fork(3).next_u32() != p.fork(4).next_u32());
    // State round trip resumes the exact sequence, including a cached Box-Muller value.
    Generator r(5);
    r.normal();
    const auto st = r.state();
    const float next = r.normal();
    Generator r2(0);
    r2.set_state(st);
    CHECK(r2.normal() == next);
}

TEST_CASE("Generator distributions have the right moments", "[tensor][random]") {
    Generator gen(1);
    const int n = 200000;
    double s = 0, s2 = 0, u = 0;
    float umin = 1, umax = 0;
    for (int i = 0; i < n; ++i) {
        const double z = gen.normal();
        s += z;
        s2 += z * z;
        const float v = gen.uniform();
        u += v;
        umin = std::min(umin, v);
        umax = std::max(umax, v);
    }
    CHECK(std::fabs(s / n) < 0.01);
    CHECK(std::fabs(s2 / n - 1.0) < 0.02);
    CHECK(std::fabs(u / n - 0.5) < 0.005);
    CHECK(umin >= 0.0f);
    CHECK(umax < 1.0f);
    std::vector<int> counts(7, 0);
    for (int i = 0; i < 70000; ++i) counts[static_cast<size_t>(gen.below(7))]++;
    for (int c : counts) CHECK(std::abs(c - 10000) < 500);
    Tensor t = Tensor::randn({1000}, gen, 3.0f, 0.5f);
    double m = 0;
    for (float v : t.values()) m += v;
    CHECK(std::fabs(m / 1000 - 3.0) < 0.1);
}

TEST_CASE("shape errors name the op and the shapes", "[tensor]") {
    Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 3});
    CHECK_THROWS_WITH(add(a, b), Catch::Contains("add: shapes (2,3) and (4,3) do not broadcast"));
    CHECK_THROWS_WITH(matmul(a, b), Catch::Contains("matmul: cannot multiply (2,3) by (4,3)"));
    CHECK_THROWS_WITH(linear(a, Tensor::zeros({5, 4})), Catch::Contains("linear: input (2,3) does not match weight (5,4)"));
    CHECK_THROWS_WITH(conv2d(Tensor::zeros({1, 3, 5, 5}), Tensor::zeros({4, 2, 3, 3})),
                      Catch::Contains("input has 3 channels, weight expects 2"));
    CHECK_THROWS_WITH(max_pool2d(a, 2), Catch::Contains("max_pool2d: input must be (N,C,H,W), got (2,3)"));
    CHECK_THROWS_WITH(group_norm(Tensor::zeros({2, 6, 3}), 4), Catch::Contains("6 channels of (2,6,3) cannot be split into 4 groups"));
    const std::vector<int32_t> labels{0, 3};
    CHECK_THROWS_WITH(cross_entropy(a, labels), Catch::Contains("label 3 at index 1 is out of range for 3 classes"));
}

namespace {
std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("bnlab_test_" + name)).string();
}
}  // namespace

TEST_CASE("safetensors round trip is exact and atomic", "[tensor][safetensors]") {
    Generator gen(3);
    TensorFile file;
    file.f32["features.0.weight"] = Tensor::randn({4, 3, 3, 3}, gen);
    file.f32["scalar"] = Tensor::scalar(1.5f);
    file.i64["features.1.num_batches_tracked"] = {Shape{}, {12345678901LL}};
    file.metadata["format"] = "pt";
    const std::string path = temp_path("roundtrip.safetensors");
    write_safetensors(path, file);
    CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
    TensorFile back = read_safetensors(path);
    CHECK(back.f32.size() == 2);
    CHECK(back.tensor("features.0.weight").to_vector() == file.f32["features.0.weight"].to_vector());
    CHECK(back.tensor("features.0.weight").shape() == Shape{4, 3, 3, 3});
    CHECK(back.tensor("scalar").ndim() == 0);
    CHECK(back.i64.at("features.1.num_batches_tracked").values == std::vector<int64_t>{12345678901LL});
    CHECK(back.metadata.at("format") == "pt");
    CHECK_THROWS_WITH(back.tensor("missing"), Catch::Contains("no F32 tensor named 'missing'"));
    std::filesystem::remove(path);
}

TEST_CASE("corrupt safetensors files give errors naming the file and the problem", "[tensor][safetensors]") {
    TensorFile file;
    file.f32["w"] = Tensor::ones({10});
    const std::string good = temp_path("good.safetensors");
    write_safetensors(good, file);
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto write_bytes = [](const std::string& path, const std::string& content) {
        std::ofstream out(path, std::ios::binary);
        out << content;
    };
    const std::string bad = temp_path("bad.safetensors");

    write_bytes(bad, bytes.substr(0, bytes.size() - 4));  // truncated data
    CHECK_THROWS_WITH(read_safetensors(bad), Catch::Contains(bad) && Catch::Contains("outside the 36 data bytes"));
    write_bytes(bad, bytes.substr(0, 5));
    CHECK_THROWS_WITH(read_safetensors(bad), Catch::Contains("truncated"));
    std::string garbled = bytes;
    garbled[8] = '#';
    write_bytes(bad, garbled);
    CHECK_THROWS_WITH(read_safetensors(bad), Catch::Contains("not valid JSON"));
    std::string huge = bytes;
    huge[6] = 1;  // header length ~ 2^48
    write_bytes(bad, huge);
    CHECK_THROWS_WITH(read_safetensors(bad), Catch::Contains("does not fit"));
    std::string wrong_dtype = bytes;
    wrong_dtype.replace(wrong_dtype.find("F32"), 3, "F16");
    write_bytes(bad, wrong_dtype);
    CHECK_THROWS_WITH(read_safetensors(bad), Catch::Contains("tensor 'w': dtype F16 is not supported"));
    CHECK_THROWS_WITH(read_safetensors(temp_path("does_not_exist")), Catch::Contains("cannot open"));
    std::filesystem::remove(good);
    std::filesystem::remove(bad);
}
