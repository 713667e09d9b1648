// cuis-sample's flags with CLI11. CLI11 finds the flags and their values; the
// values are kept as text and converted here, strictly (no clamping, no
// wrapping), so that every message names the flag and what was wrong.
#include "sample_flags.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <vector>

#include "score_number.h"

namespace cuis_cli {
namespace {

const char* FOOTER =
    "Writes one 'index,weight' line per draw on stdout, the same on the CPU and the GPU.\n"
    "--chunk: the output does not depend on it; it applies to unbiased draws with replacement.\n"
    "  Biased weights (--k) are rescaled over the whole batch, drawn at once: with replacement\n"
    "  at most 16777216 draws. Without replacement the batch is drawn at once (B <= N) and\n"
    "  score i uses counter O + i.\n"
    "Score file: raw little-endian float32 if its name ends in .f32 (a positive multiple of 4\n"
    "  bytes), else text: one decimal number per line, LF or CRLF line ends; a UTF-8 byte-order\n"
    "  mark at the start, blank lines, lines of spaces and tabs and lines starting with '#' are\n"
    "  ignored; spaces and tabs around a number are allowed; anything else is refused with its\n"
    "  line number, as are nan, inf, negative values, values beyond float32's range and\n"
    "  non-zero values that round to 0 in float32 (subnormals are accepted).\n"
    "Errors: one line on stderr; exit 2 for bad flags, 1 for everything else.";

// The text the user gave for each flag (defaults as shown by --help).
struct Text {
  std::string weights, count, seed, offset = "0", k, smooth = "0", power = "1", device = "auto", chunk = "auto";
  bool without_replacement = false;
};

void add_flags(CLI::App* app, Text* t) {
  app->add_option("--weights", t->weights, "score file (format below)")->required()->type_name("FILE");
  app->add_option("--count", t->count, "number of draws, 1 .. 2147483647")->required()->type_name("B");
  app->add_option("--seed", t->seed, "Philox seed, 0 .. 2^64-1")->required()->type_name("S");
  app->add_option("--offset", t->offset, "Philox counter of draw 0: draw j uses O + j, 0 .. 2^64-1")
      ->type_name("O")
      ->capture_default_str();
  app->add_flag("--without-replacement", t->without_replacement, "distinct indices, B <= N (default: off)")
      ->disable_flag_override();
  app->add_option("--k", t->k, "biased weights (1/(N p))^K, K <= 1 (default: none, unbiased)")->type_name("K");
  app->add_option("--smooth", t->smooth, "draw in proportion to s^A + C, C >= 0")
      ->type_name("C")
      ->capture_default_str();
  app->add_option("--power", t->power, "A in [0, 1]")->type_name("A")->capture_default_str();
  app->add_option("--device", t->device, "auto: CUDA if usable, else the CPU reference")
      ->type_name("auto|cpu|cuda")
      ->capture_default_str();
  app->add_option("--chunk", t->chunk, "draws held at once, or auto: N within [2^20, 2^24]")
      ->type_name("D")
      ->capture_default_str();
}

// The first thing CLI11 could not place: an unknown flag or a stray argument.
std::string unexpected(const CLI::App& app) {
  bool after_dashes = false;
  for (const std::string& a : app.remaining()) {
    if (a == "--" && !after_dashes) {
      after_dashes = true;
      continue;
    }
    const bool looks_like_flag = a.size() > 1 && a[0] == '-' && !(a[1] >= '0' && a[1] <= '9') && a[1] != '.';
    if (looks_like_flag && !after_dashes) return "unknown flag " + a.substr(0, a.find('='));
    return "unexpected argument '" + printable(a) + "'";
  }
  return "";
}

std::string repeated(const CLI::App& app) {
  for (const CLI::Option* o : app.get_options())
    if (o->count() > 1) return o->get_name() + " is given " + std::to_string(o->count()) + " times; give it once";
  return "";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Two of CLI11's messages in plainer words: "--count: 1 required B missing"
// and "without-replacement was given a disallowed flag override".
std::string parse_error(const CLI::ParseError& e) {
  const std::string what = e.what();
  if (e.get_name() != "ArgumentMismatch") return what;
  const size_t colon = what.find(": ");
  if (colon != std::string::npos && ends_with(what, " missing")) return what.substr(0, colon) + " needs a value";
  const std::string overridden = " was given a disallowed flag override";
  if (ends_with(what, overridden)) return "--" + what.substr(0, what.size() - overridden.size()) + " takes no value";
  return what;
}

bool to_count(const std::string& flag, const std::string& text, int64_t* out, std::string* error) {
  unsigned long long v = 0;
  if (!parse_uint64(text, &v) || v < 1 || v > static_cast<unsigned long long>(MAX_DRAWS)) {
    *error = flag + " must be an integer in [1, " + std::to_string(MAX_DRAWS) + "], got '" + printable(text) + "'";
    return false;
  }
  *out = static_cast<int64_t>(v);
  return true;
}

bool to_u64(const std::string& flag, const std::string& text, uint64_t* out, std::string* error) {
  unsigned long long v = 0;
  if (parse_uint64(text, &v)) {
    *out = v;
    return true;
  }
  const bool digits =
      !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  *error = digits ? flag + " " + printable(text) + " is out of range: at most 18446744073709551615 (2^64 - 1)"
                  : flag + " must be an integer in [0, 2^64 - 1], got '" + printable(text) + "'";
  return false;
}

bool to_float(const std::string& flag, const std::string& text, float* out, std::string* error) {
  const ParsedNumber p = parse_float32(text);
  switch (p.status) {
    case NumberStatus::ok:
      *out = p.value;
      return true;
    case NumberStatus::out_of_range:
      *error = flag + " " + printable(text) + " is out of float32 range";
      return false;
    case NumberStatus::underflow:
      *error = flag + " " + printable(text) + " is not zero but rounds to 0 in float32";
      return false;
    default:
      *error = flag + " must be a finite decimal number, got '" + printable(text) + "'";
      return false;
  }
}

// Text to flags; false with *error (exit 2) for a bad value or combination.
bool convert(const Text& t, const CLI::App& app, SampleFlags* f, std::string* error) {
  if (t.weights.empty()) {
    *error = "--weights needs a file name";
    return false;
  }
  f->weights = t.weights;
  f->opts.replacement = !t.without_replacement;
  if (!to_count("--count", t.count, &f->count, error) || !to_u64("--seed", t.seed, &f->opts.rng.seed, error) ||
      !to_u64("--offset", t.offset, &f->opts.rng.offset, error) ||
      !to_float("--smooth", t.smooth, &f->opts.smooth, error) || !to_float("--power", t.power, &f->opts.power, error))
    return false;
  const bool biased = app.get_option("--k")->count() > 0;
  if (biased) {
    if (!to_float("--k", t.k, &f->opts.k, error)) return false;
    f->opts.weighting = cuis::Weighting::biased;
  }
  if (t.device != "auto" && t.device != "cpu" && t.device != "cuda") {
    *error = "--device must be auto, cpu or cuda, got '" + printable(t.device) + "'";
    return false;
  }
  f->device = t.device;
  f->chunk = 0;
  if (t.chunk != "auto") {
    if (!to_count("--chunk", t.chunk, &f->chunk, error)) {
      *error = "--chunk must be auto or an integer in [1, " + std::to_string(MAX_DRAWS) + "], got '" +
               printable(t.chunk) + "'";
      return false;
    }
    if (biased || !f->opts.replacement) {
      *error =
          "--chunk applies to unbiased draws with replacement only (--k and --without-replacement draw the "
          "whole batch at once)";
      return false;
    }
  }
  if (biased && f->opts.replacement && f->count > MAX_BIASED_DRAWS) {
    *error = "--count " + std::to_string(f->count) +
             " with --k: biased weights are rescaled over the whole batch, "
             "which is drawn at once, so at most " +
             std::to_string(MAX_BIASED_DRAWS) + " draws (draw several batches with different --offset values)";
    return false;
  }
  if (cuis::validate_options(f->opts) != cuis::Error::success) {
    *error = cuis::last_error_message();
    return false;
  }
  return true;
}

}  // namespace

int sample_error(int code, const std::string& message) {
  std::fprintf(stderr, "cuis-sample: error: %s\n", message.c_str());
  return code;
}

int parse_sample_flags(int argc, char** argv, SampleFlags* f) {
  CLI::App app{"Draws indices in proportion to importance scores, with their importance weights."};
  app.name("cuis-sample");
  app.footer(FOOTER);
  app.get_formatter()->column_width(34);
  Text t;
  add_flags(&app, &t);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::string message = unexpected(app);
    if (message.empty()) message = repeated(app);
    if (message.empty()) message = parse_error(e);
    return sample_error(2, message + " (see cuis-sample --help)");
  }
  std::string error = repeated(app);
  if (!error.empty() || !convert(t, app, f, &error)) return sample_error(2, error);
  return -1;
}

int64_t chunk_size(const SampleFlags& f, int64_t n) {
  if (!f.opts.replacement || f.opts.weighting == cuis::Weighting::biased) return f.count;
  const int64_t chunk = f.chunk > 0 ? f.chunk : std::min(std::max(n, CHUNK_MIN), CHUNK_MAX);
  return std::min(chunk, f.count);
}

}  // namespace cuis_cli
