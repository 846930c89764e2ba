#include "experiments/plot.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cmath>
#include <algorithm>
#include <filesystem>
#include <map>

#include "core/atomic_file.h"
#include "core/error.h"
#include "experiments/stats.h"
#include "train/metrics.h"

extern char** environ;

namespace bnlab {

namespace {

// gnuplot's string quoting: single quotes, with a single quote doubled.
std::string quoted(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
}

// Runs `gnuplot -e "out='OUT'" script` and waits; "" on success.
std::string run_gnuplot(const std::string& script, const std::string& out, const std::string& log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::string program = "gnuplot", option = "-e", set_out = "out=" + quoted(out), argument = script;
    char* argv[] = {program.data(), option.data(), set_out.data(), argument.data(), nullptr};
    pid_t pid = 0;
    const int spawned = posix_spawnp(&pid, "gnuplot", &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) return "gnuplot not found (install gnuplot-nox; `make deps` does)";
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "gnuplot failed, see " + log;
    return "";
}

}  // namespace

Curve band_curve(const std::string& label, const std::vector<const std::vector<MetricsRow>*>& runs,
                 double MetricsRow::*field) {
    std::map<int64_t, std::vector<double>> by_step;
    for (const auto* rows : runs)
        for (const MetricsRow& row : *rows)
            if (std::isfinite(row.*field)) by_step[row.step].push_back(row.*field);
    Curve c;
    c.label = label;
    for (const auto& [step, values] : by_step) {
        c.x.push_back(static_cast<double>(step));
        c.mean.push_back(mean_of(values));
        c.low.push_back(*std::min_element(values.begin(), values.end()));
        c.high.push_back(*std::max_element(values.begin(), values.end()));
    }
    return c;
}

Curve summary_curve(const std::string& label, std::span<const double> x, const std::vector<std::vector<double>>& per_point,
                    const std::function<PointSummary(std::span<const double>)>& summary, double scale) {
    Curve c;
    c.label = label;
    for (size_t i = 0; i < x.size() && i < per_point.size(); ++i) {
        std::vector<double> values;
        for (double v : per_point[i])
            if (std::isfinite(v)) values.push_back(scale * v);
        if (values.empty()) continue;
        const PointSummary s = summary(values);
        c.x.push_back(x[i]);
        c.mean.push_back(s.centre);
        c.low.push_back(s.low);
        c.high.push_back(s.high);
    }
    return c;
}

Curve points_curve(const std::string& label, std::span<const double> x, const std::vector<std::vector<double>>& per_point,
                   double scale) {
    return summary_curve(label, x, per_point, [](std::span<const double> v) {
        return PointSummary{mean_of(v), *std::min_element(v.begin(), v.end()),
                            *std::max_element(v.begin(), v.end())};
    }, scale);
}

Curve band_curve(const std::string& label, const std::vector<double>& x, const std::vector<std::vector<double>>& runs) {
    std::vector<std::vector<double>> per_point(x.size());
    for (const auto& run : runs)
        for (size_t i = 0; i < x.size() && i < run.size(); ++i) per_point[i].push_back(run[i]);
    return points_curve(label, x, per_point);
}

Curve scaled(Curve curve, double factor) {
    for (std::vector<double>* ys : {&curve.mean, &curve.low, &curve.high})
        for (double& y : *ys) y *= factor;
    return curve;
}

namespace {

// Labels for a log axis over the data's [low, high]: gnuplot labels whole decades only, which
// leaves a range of a decade or two with one label or none. Narrower than a decade: steps of
// 1, 1.5, 2, 3, 5, 7; up to two decades: 1, 2, 5. "" (gnuplot's decades) for wider ranges.
std::string log_tics(char axis, double low, double high) {
    if (!(low > 0) || !(high > low) || high / low > 100) return "";
    const std::vector<double> steps = high / low < 10 ? std::vector<double>{1, 1.5, 2, 3, 5, 7} : std::vector<double>{1, 2, 5};
    std::vector<std::string> tics;
    for (int e = static_cast<int>(std::floor(std::log10(low))); e <= static_cast<int>(std::ceil(std::log10(high))); ++e)
        for (const double m : steps)
            if (const double v = m * std::pow(10.0, e); v >= low * (1 - 1e-9) && v <= high * (1 + 1e-9))
                tics.push_back(fmt::format("{:g}", v));
    return fmt::format("set {}tics ({})\n", axis, fmt::join(tics, ", "));
}

// The smallest and largest positive finite value of one coordinate over every curve.
std::pair<double, double> positive_range(const PlotSpec& spec, bool y) {
    double low = INFINITY, high = -INFINITY;
    for (const Curve& c : spec.curves)
        for (const std::vector<double>* values : y ? std::vector{&c.mean, &c.low, &c.high} : std::vector{&c.x})
            for (const double v : *values)
                if (std::isfinite(v) && v > 0) {
                    low = std::min(low, v);
                    high = std::max(high, v);
                }
    return {low, high};
}

std::string log_axis(char axis, const PlotSpec& spec) {
    const auto [low, high] = positive_range(spec, axis == 'y');
    return fmt::format("set logscale {0}\nset format {0} '%g'\n", axis) + log_tics(axis, low, high);
}

}  // namespace

std::string plot_bands(const std::string& dir, const std::string& name, const PlotSpec& spec) {
    const std::string base = (std::filesystem::path(dir) / name).string();
    // One gnuplot data block per curve (blocks are separated by two blank lines: "index i").
    std::string data;
    for (const Curve& c : spec.curves) {
        data += "# " + c.label + ": x mean low high\n";
        for (size_t i = 0; i < c.x.size(); ++i)
            if (std::isfinite(c.mean[i]))
                data += fmt::format("{} {:.6g} {:.6g} {:.6g}\n", c.x[i], c.mean[i], c.low[i], c.high[i]);
        data += "\n\n";
    }
    write_text_atomically(base + ".dat", data);

    // The script finds its .dat beside itself (ARG0 is the script's path), so `gnuplot NAME.gp`
    // rewrites NAME.png from any folder; bnlab passes out='NAME.png.tmp-<pid>-<n>' and renames it.
    const std::string script_name = name + ".gp";
    std::string script = fmt::format(
        "# Re-plot by hand: gnuplot {0} (writes {1}.png beside it)\n"
        "here = ARG0[1:strlen(ARG0) - strlen({2})]\n"
        "if (!exists('out')) out = here . {3}\n"
        "set terminal pngcairo size 900,560 font ',11'\n"
        "set output out\n"
        "set title {4}\nset xlabel {5}\nset ylabel {6}\n"
        "set key {7}\nset grid\n"
        // Axes fitted to the data (a log axis would otherwise round out to whole decades), plus 5% air.
        "set autoscale fix\nset offsets graph 0, graph 0, graph 0.05, graph 0.05\n{8}{9}",
        script_name, name, quoted(script_name), quoted(name + ".png"), quoted(spec.title), quoted(spec.xlabel),
        quoted(spec.ylabel), spec.key,
        spec.log_y ? log_axis('y', spec) : "", spec.log_x ? log_axis('x', spec) : "");
    std::string plots;
    for (size_t i = 0; i < spec.curves.size(); ++i) {
        const std::string file = i == 0 ? "here . " + quoted(name + ".dat") : "''";
        if (spec.bands)
            plots += fmt::format("{}{} index {} using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc {} notitle, "
                                 "'' index {} using 1:2 with lines lw 2 lc {} title {}",
                                 i ? ", \\\n     " : "plot ", file, i, i + 1, i, i + 1, quoted(spec.curves[i].label));
        else
            plots += fmt::format("{}{} index {} using 1:2 with linespoints lw 2 pt {} ps 1.2 lc {} title {}",
                                 i ? ", \\\n     " : "plot ", file, i, i + 1, i + 1, quoted(spec.curves[i].label));
    }
    if (std::isfinite(spec.reference_y))
        plots += fmt::format(", \\\n     {} with lines dt 2 lw 1.5 lc rgb 'black' title {}", spec.reference_y,
                             quoted(spec.reference_label));
    if (!spec.markers.empty()) {
        plots += fmt::format(", \\\n     '-' using 1:2 with points pt 2 ps 2 lw 2 lc rgb 'red' title {}",
                             quoted(spec.markers_label));
        plots += "\n";
        for (const auto& [x, y] : spec.markers) plots += fmt::format("{} {:.6g}\n", x, y);
        plots += "e";
    }
    script += plots + "\n";
    write_text_atomically(base + ".gp", script);

    // gnuplot writes the PNG into a fresh, exclusively created temporary file
    // (base.png.tmp-<pid>-<n>, core/atomic_file.h) that is renamed over base.png once it is whole.
    try {
        produce_atomically(base + ".png", [&](const std::string& png_tmp) {
            const std::string problem = run_gnuplot(base + ".gp", png_tmp, base + ".gnuplot.log");
            if (!problem.empty()) throw Error(problem);
        });
    } catch (const Error& e) {
        return e.what();
    }
    std::error_code ec;
    std::filesystem::remove(base + ".gnuplot.log", ec);
    return "";
}

}  // namespace bnlab
