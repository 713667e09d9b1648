// cuis-train's flags with CLI11. Every value is taken as text and converted
// here, strictly: the whole text must be the number, in range, or the flag is
// refused naming what it must be (CLI11's own conversions would accept octal
// and hex integers and saturate on overflow).
#include "train_flags.h"

#include <CLI/CLI.hpp>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

namespace cuis_train {

namespace {

const char* DESCRIPTION =
    "cuis-train: trains an MLP on the GPU (or the CPU reference) with uniform or importance sampling,\n"
    "evaluates it on both splits, and logs the run as CSV.";

const char* FOOTER =
    "Budgets are the run's totals: repeating a command with --resume FILE continues the same run to the\n"
    "same end (--steps, --epochs, or --seconds of training time counted from the checkpoint's). Without\n"
    "a budget flag the run is 1 epoch. Resuming refuses any setting that changes the results (sampler,\n"
    "batch, seed, network, data, ...); --log, --checkpoint, the evaluation interval, the budget, --graph\n"
    "and --device may differ. Resuming onto the same --log keeps its rows up to the checkpoint's step.\n"
    "wall_s in the log is training time; evaluations are not counted.";

constexpr int64_t MAX_STEPS = int64_t{1} << 62;

bool to_i64(const std::string& s, int64_t lo, int64_t hi, int64_t* out) {
  int64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool to_u64(const std::string& s, uint64_t* out) {
  uint64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return false;
  *out = v;
  return true;
}

// A finite number that a float holds (when to_float) and, with positive, > 0.
bool to_number(const std::string& s, bool positive, double* out, bool to_float = true) {
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v)) return false;
  if (to_float && (std::fabs(v) > 3.4028234663852886e38 || (v != 0 && std::fabs(v) < 1.1754943508222875e-38)))
    return false;
  if (positive && !(v > 0)) return false;
  *out = v;
  return true;
}

bool to_sizes(const std::string& s, std::vector<int32_t>* out) {
  std::vector<int32_t> sizes;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) {
    int64_t v = 0;
    if (!to_i64(part, 1, int64_t{1} << 20, &v)) return false;
    sizes.push_back(static_cast<int32_t>(v));
  }
  if (sizes.empty() || s.back() == ',') return false;
  *out = sizes;
  return true;
}

struct Option {
  const char* name;
  const char* type;
  const char* def;  // shown by --help; "" for none
  const char* help;
};

const Option OPTIONS[] = {
    {"--data", "NAME", "fashion-mnist", "fashion-mnist, mnist:DIR, cifar10:DIR or synthetic"},
    {"--normalize", "standard|none", "standard",
     "standard: every feature to mean 0, deviation 1 (the training split's); none: pixels in [0, 1]"},
    {"--sampler", "uniform|loss|gnorm|predicted|cache", "uniform",
     "how each batch is drawn (cache: by each sample's last observed loss)"},
    {"--predictor-log", "on|off", "off", "predicted: the loss predictor learns and reads log losses"},
    {"--k", "K", "0.5", "importance weight exponent: weights (1/(N p))^k; 1 is unbiased"},
    {"--smooth", "C", "0", "additive smoothing of the scores"},
    {"--adaptive-smooth", "C", "0", "smoothing by C times the running mean batch loss"},
    {"--power", "A", "1", "power smoothing: scores^A (default 0.5 for cache and predicted, whose scores are stale or noisy)"},
    {"--presample", "P|all", "1024",
     "candidates scored per step (at least --batch; default 16384 for cache); all: the whole training set"},
    {"--warmup", "W", "0", "uniform steps before importance sampling"},
    {"--tau-th", "T|auto", "0", "sample by importance only while the smoothed tau exceeds T; auto: (P+3B)/(3B)"},
    {"--batch", "B", "128", "batch size, in [1, 2^20]"},
    {"--hidden", "SIZES", "512,512", "hidden layer widths"},
    {"--optimizer", "sgd|adam", "adam", "the optimizer"},
    {"--lr", "LR", "0.001", "learning rate"},
    {"--momentum", "M", "0.9", "SGD momentum"},
    {"--weight-decay", "D", "0", "weight decay"},
    {"--epochs", "E", "1", "budget: E epochs in all (the default budget)"},
    {"--steps", "S", "", "budget: S steps in all"},
    {"--seconds", "T", "", "budget: T seconds of training in all"},
    {"--eval-every", "S", "", "evaluate every S steps (default: 10 times a run; a --seconds run: every tenth of it)"},
    {"--eval-seconds", "T", "", "evaluate every T seconds of training"},
    {"--seed", "S", "1", "the run's seed, in [0, 2^64-1]"},
    {"--device", "auto|cuda|cpu", "auto", "the engine; auto: CUDA when a GPU is present (says so when it is not)"},
    {"--graph", "on|off", "on", "the CUDA engine replays each step as one CUDA graph (designed to give the same results)"},
    {"--tf32", "on|off", "off", "the CUDA engine's GEMMs on TF32 tensor cores (off: FP32)"},
    {"--backend", "cublas|cublaslt|cudnn", "cublas",
     "the CUDA engine's dense layers: cuBLAS GEMMs + cuis kernels, cuBLASLt epilogues, or cuDNN graphs (falls back "
     "to cublas, saying why, where the one asked cannot run)"},
    {"--log", "FILE", "", "CSV log of every evaluation (default: none)"},
    {"--eval-scores", "on|off", "off",
     "at every evaluation also log score_rank_corr: Spearman's correlation of the sampler's scores of the whole "
     "training set with the true losses (scores the training set twice per evaluation)"},
    {"--checkpoint", "FILE", "", "write the run's state (one file) at every evaluation (default: none)"},
    {"--resume", "FILE", "", "continue the run a --checkpoint file holds (default: a new run)"},
};

// The value of a parsed option, its conversion and the error naming it.
struct Values {
  std::map<std::string, std::string> text;
  std::string error;
  bool given(const char* name) const { return text.count(name) != 0; }
  bool bad(const char* name, const std::string& what) {
    if (error.empty()) error = std::string(name) + " must be " + what + ", got '" + text[name] + "'";
    return false;
  }
  void number(const char* name, float* out) {
    double d = 0;
    if (given(name) && (to_number(text[name], false, &d) || bad(name, "a number in a float's range")))
      *out = static_cast<float>(d);
  }
  void positive(const char* name, double* out) {
    if (given(name) && !to_number(text[name], true, out, false)) bad(name, "a positive number");
  }
  void integer(const char* name, int64_t lo, int64_t hi, const std::string& what, int64_t* out) {
    if (given(name) && !to_i64(text[name], lo, hi, out)) bad(name, what);
  }
  bool is(const char* name, const char* a, const char* b, const char* c = nullptr) {
    if (!given(name)) return false;
    const std::string& v = text[name];
    if (v == a || v == b || (c && v == c)) return true;
    bad(name, std::string(a) + (c ? ", " : " or ") + b + (c ? std::string(" or ") + c : std::string()));
    return false;
  }
};

std::string unexpected(const std::string& arg) {
  if (arg.size() > 1 && arg[0] == '-' && !(std::isdigit(static_cast<unsigned char>(arg[1])) || arg[1] == '.'))
    return "unknown flag " + arg.substr(0, arg.find('=')) + " (cuis-train --help lists the flags)";
  return "unexpected argument '" + arg + "' (cuis-train takes flags only; --help lists them)";
}

}  // namespace

int fail(int code, const std::string& msg) {
  std::fprintf(stderr, "cuis-train: error: %s\n", msg.c_str());
  return code;
}

int parse_flags(int argc, char** argv, Flags* f) {
  CLI::App app{DESCRIPTION, "cuis-train"};
  app.allow_extras();
  app.footer(FOOTER);
  app.get_formatter()->column_width(40);
  Values v;
  std::map<std::string, std::string> raw;
  std::vector<CLI::Option*> opts;
  for (const Option& o : OPTIONS) {
    CLI::Option* opt = app.add_option(o.name, raw[o.name], o.help)->type_name(o.type);
    opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)->default_str(o.def);
    opts.push_back(opt);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ArgumentMismatch& e) {  // the only one with TakeLast: a flag without its value
    const std::string what = e.what();
    return fail(2, what.substr(0, what.find(':')) + " needs a value");
  } catch (const CLI::ParseError& e) {
    return fail(2, e.what());
  }
  const std::vector<std::string> rest = app.remaining();
  if (!rest.empty()) return fail(2, unexpected(rest.front()));
  for (CLI::Option* o : opts) {
    if (o->count() > 1)
      return fail(2, o->get_name() + " given " + std::to_string(o->count()) + " times: give each flag once");
    if (o->count() == 1) v.text[o->get_name()] = raw[o->get_name()];
  }

  Flags r;
  cuis::TrainConfig& c = r.cfg;
  if (v.given("--data")) r.data = v.text["--data"];
  if (v.given("--sampler") && !cuis::parse_sampler(v.text["--sampler"], &c.sampler))
    v.bad("--sampler", "uniform, loss, gnorm, predicted or cache");
  if (v.is("--predictor-log", "on", "off")) c.predictor_log = v.text["--predictor-log"] == "on";
  if (v.is("--eval-scores", "on", "off")) r.eval_scores = v.text["--eval-scores"] == "on";
  v.number("--k", &c.k);
  v.number("--smooth", &c.smooth);
  v.number("--adaptive-smooth", &c.adaptive_smooth);
  v.number("--power", &c.power);
  if (v.given("--presample")) {
    if (v.text["--presample"] == "all") c.presample = cuis::PRESAMPLE_ALL;
    else v.integer("--presample", 1, int64_t{1} << 24, "an integer in [1, 2^24] or 'all'", &c.presample);
  }
  v.integer("--warmup", 0, MAX_STEPS, "an integer in [0, 2^62]", &c.warmup);
  if (v.given("--tau-th")) {
    double d = 0;
    if (v.text["--tau-th"] == "auto") r.tau_auto = true;
    else if (!to_number(v.text["--tau-th"], false, &d) || d < 0) v.bad("--tau-th", "a number >= 0 or 'auto'");
    else c.tau_th = static_cast<float>(d);
  }
  v.integer("--batch", 1, int64_t{1} << 20, "an integer in [1, 2^20]", &c.batch);
  if (v.given("--hidden") && !to_sizes(v.text["--hidden"], &c.hidden))
    v.bad("--hidden", "sizes like 512,512 (each in [1, 2^20])");
  if (v.is("--optimizer", "sgd", "adam"))
    c.optimizer.kind = v.text["--optimizer"] == "sgd" ? cuis::OptimizerKind::sgd : cuis::OptimizerKind::adam;
  v.number("--lr", &c.optimizer.lr);
  if (v.given("--lr") && v.error.empty() && c.optimizer.lr < 0) v.bad("--lr", "a number >= 0");
  v.number("--momentum", &c.optimizer.momentum);
  v.number("--weight-decay", &c.optimizer.weight_decay);
  v.positive("--epochs", &r.epochs);
  v.integer("--steps", 1, MAX_STEPS, "an integer in [1, 2^62]", &r.steps);
  v.positive("--seconds", &r.seconds);
  v.integer("--eval-every", 1, MAX_STEPS, "an integer in [1, 2^62]", &r.eval_every);
  v.positive("--eval-seconds", &r.eval_seconds);
  if (v.given("--seed") && !to_u64(v.text["--seed"], &c.seed)) v.bad("--seed", "an integer in [0, 2^64-1]");
  if (v.is("--device", "auto", "cuda", "cpu")) r.device = v.text["--device"];
  if (v.is("--graph", "on", "off")) c.cuda_graph = v.text["--graph"] == "on";
  if (v.is("--tf32", "on", "off")) c.math = v.text["--tf32"] == "on" ? cuis::Math::tf32 : cuis::Math::fp32;
  if (v.is("--backend", "cublas", "cublaslt", "cudnn") &&
      cuis::parse_backend(v.text["--backend"].c_str(), &c.backend) != cuis::Error::success)
    v.bad("--backend", "cublas, cublaslt or cudnn");
  if (v.is("--normalize", "standard", "none")) r.standardize = v.text["--normalize"] == "standard";
  for (const char* name : {"--log", "--checkpoint", "--resume"})
    if (v.given(name) && v.text[name].empty()) v.bad(name, "a file name");
  r.log = v.text["--log"];
  r.checkpoint = v.text["--checkpoint"];
  r.resume = v.text["--resume"];
  if (!v.error.empty()) return fail(2, v.error);
  if (!r.log.empty() && r.log == r.checkpoint)
    return fail(2, "--log and --checkpoint name the same file " + r.log + ": the checkpoint would replace the log");
  if (v.given("--epochs") + v.given("--steps") + v.given("--seconds") > 1)
    return fail(2, "give at most one of --epochs, --steps, --seconds");
  if (v.given("--eval-every") && v.given("--eval-seconds"))
    return fail(2, "give at most one of --eval-every, --eval-seconds");
  if (!v.given("--steps") && !v.given("--seconds") && !v.given("--epochs")) r.epochs = 1;
  // The cheap scorers' defaults, from the predictor study (bench/results/predictor-study-cpu-2026-12-01.md).
  const bool cheap = c.sampler == cuis::SamplerKind::cache || c.sampler == cuis::SamplerKind::predicted;
  if (cheap && !v.given("--power")) c.power = 0.5f;
  if (c.sampler == cuis::SamplerKind::cache && !v.given("--presample")) c.presample = 16384;
  if (r.eval_scores && c.sampler == cuis::SamplerKind::uniform)
    return fail(2, "--eval-scores on: the uniform sampler has no scores to rank");
  if (c.predictor_log && c.sampler != cuis::SamplerKind::predicted)
    return fail(2, "--predictor-log on: only the predicted sampler has a loss predictor");
  if (c.sampler == cuis::SamplerKind::uniform) {  // accepted, but said: a flag that changes nothing is a slip
    std::string unused;
    for (const char* name : {"--k", "--smooth", "--adaptive-smooth", "--power", "--presample", "--warmup", "--tau-th"})
      if (v.given(name)) unused += (unused.empty() ? "" : ", ") + std::string(name);
    if (!unused.empty())
      std::fprintf(stderr, "cuis-train: note: %s %s no effect with --sampler uniform\n", unused.c_str(),
                   unused.find(',') == std::string::npos ? "has" : "have");
  }
  if (c.sampler != cuis::SamplerKind::uniform && c.presample != cuis::PRESAMPLE_ALL && c.presample < c.batch)
    return fail(2, "--presample " + std::to_string(c.presample) + " is smaller than --batch " +
                       std::to_string(c.batch) + ": each step draws its batch from the P candidates it scores, so " +
                       "P must be at least B (the default P is 1024; --presample all scores the whole training set)");
  *f = std::move(r);
  return -1;
}

std::string describe_difference(const cuis::ConfigDifference& d) {
  static const std::map<std::string, std::string> FLAG = {
      {"sampler", "--sampler"}, {"batch", "--batch"}, {"seed", "--seed"}, {"hidden", "--hidden"},
      {"optimizer.kind", "--optimizer"}, {"optimizer.lr", "--lr"}, {"optimizer.weight_decay", "--weight-decay"},
      {"optimizer.momentum", "--momentum"}, {"math", "--tf32"}, {"k", "--k"}, {"smooth", "--smooth"},
      {"adaptive_smooth", "--adaptive-smooth"}, {"power", "--power"}, {"presample", "--presample"},
      {"warmup", "--warmup"}, {"tau_th", "--tau-th"}, {"predictor_log", "--predictor-log"}};
  const auto it = FLAG.find(d.field);
  if (it == FLAG.end())
    return "the checkpoint was written with " + d.field + " " + d.saved + ", this run has " + d.field + " " + d.asked +
           " (TrainConfig::" + d.field + ", which no cuis-train flag sets)";
  auto value = [&](const std::string& s) { return d.field == "math" ? (s == "tf32" ? "on" : "off") : s; };
  return "the checkpoint was written with " + it->second + " " + value(d.saved) + ", this run asks for " +
         it->second + " " + value(d.asked);
}

}  // namespace cuis_train
