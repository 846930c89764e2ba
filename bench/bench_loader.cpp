// Loading and batching throughput of the data pipeline (not a test: numbers to read).
//
//   bench_loader [--data-dir DIR]      (DIR defaults to ../shared/data, where CIFAR-10 is)
//
// For each data set: the time to read the files, then images/s and ms per batch of
// DataLoader::next() alone (prefetch off: the full cost a training step would wait for;
// prefetch on: the thread builds while nothing else runs), and the wait a training loop
// sees with prefetch on when each step takes 20 ms (simulated by sleeping).
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "core/error.h"
#include "data/catalog.h"
#include "data/loader.h"

using namespace bnlab;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs whole epochs until at least `min_seconds` passed; returns seconds per batch.
double time_batches(DataLoader& loader, double min_seconds, int64_t& batches) {
    batches = 0;
    const Clock::time_point start = Clock::now();
    Batch batch;
    for (int64_t epoch = 0; batches == 0 || seconds_since(start) < min_seconds; ++epoch) {
        loader.start_epoch(epoch);
        while (loader.next(batch)) ++batches;
    }
    return seconds_since(start) / static_cast<double>(batches);
}

// With prefetching and a 20 ms "training step" after each batch: the mean time next() blocks.
double exposed_wait(DataLoader& loader, int64_t batches) {
    loader.start_epoch(0);
    Batch batch;
    double waited = 0;
    for (int64_t b = 0; b < batches; ++b) {
        const Clock::time_point start = Clock::now();
        if (!loader.next(batch)) loader.start_epoch(b), loader.next(batch);
        waited += seconds_since(start);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return waited / static_cast<double>(batches);
}

void bench(const std::string& name, const std::string& data_dir) {
    const Clock::time_point start = Clock::now();
    Dataset data;
    try {
        data = load_dataset(name, "train", {.data_dir = data_dir, .allow_partial = true});
    } catch (const Error& e) {
        std::printf("%-20s skipped: %s\n", name.c_str(), e.what());
        return;
    }
    std::printf("%-20s read %lld images in %.2f s\n", data.name.c_str(), static_cast<long long>(data.size()),
                seconds_since(start));
    const bool colour = data.channels == 3;
    for (int64_t batch_size : {64, 128})
        for (bool augment : colour ? std::vector<bool>{false, true} : std::vector<bool>{false})
            for (bool prefetch : {false, true}) {
                DataLoader loader(data, {.batch_size = batch_size, .augment = augment, .prefetch = prefetch, .seed = 1});
                int64_t batches = 0;
                const double per_batch = time_batches(loader, 1.0, batches);
                std::printf("  %-20s %5lld  %-7s  %-8s  %10.0f  %8.3f", data.name.c_str(),
                            static_cast<long long>(batch_size), augment ? "yes" : "no", prefetch ? "yes" : "no",
                            static_cast<double>(batch_size) / per_batch, per_batch * 1e3);
                if (prefetch) std::printf("  %8.3f", exposed_wait(loader, 50) * 1e3);
                std::printf("\n");
            }
}

}  // namespace

int main(int argc, char** argv) {
    std::string data_dir = "../shared/data";
    if (argc == 3 && std::string(argv[1]) == "--data-dir") data_dir = argv[2];
    else if (argc != 1) {
        std::fprintf(stderr, "usage: bench_loader [--data-dir DIR]\n");
        return 2;
    }
    std::printf("  %-20s %5s  %-7s  %-8s  %10s  %8s  %8s\n", "data set", "batch", "augment", "prefetch", "images/s",
                "ms/batch", "wait ms");
    std::printf("  (wait ms: mean time next() blocks when each training step takes 20 ms, prefetch on)\n");
    for (const std::string name : {"fashion-mnist", "mnist", "cifar10"}) bench(name, data_dir);
    return 0;
}
