// cuis-train: trains the MLP with a chosen sampler and logs the run.
// See usage() for the flags. Errors: one line on stderr, exit 2 for bad
// flags, 1 for everything else.
#include <cuda_runtime_api.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cuis/data.h"
#include "cuis/trainer.h"

namespace {

const char* USAGE =
    "usage: cuis-train [--data fashion-mnist|mnist:DIR|cifar10:DIR|synthetic]\n"
    "                  [--sampler uniform|loss|gnorm|predicted] [--k K] [--smooth C] [--adaptive-smooth C]\n"
    "                  [--power A] [--presample P|all] [--warmup W] [--tau-th T] [--batch B] [--hidden 512,512]\n"
    "                  [--optimizer sgd|adam] [--lr LR] [--momentum M] [--weight-decay D]\n"
    "                  [--epochs E | --steps S | --seconds T] [--eval-every S | --eval-seconds T] [--seed S]\n"
    "                  [--device auto|cuda|cpu] [--graph on|off] [--tf32 on|off] [--normalize standard|none]\n"
    "                  [--log FILE] [--checkpoint FILE] [--resume FILE]\n"
    "  --normalize: standard (default) scales every input feature to mean 0, deviation 1 with the\n"
    "               training split's statistics; none keeps pixels in [0, 1]\n"
    "  --graph: the CUDA engine replays each step as one CUDA graph (default on)\n"
    "  --tf32: the CUDA engine's GEMMs on TF32 tensor cores (default off: FP32)\n"
    "  --presample all: score the whole training set every step (cheap with --sampler predicted)\n"
    "  --tau-th T: importance sampling only while the smoothed tau exceeds T (0: always; 'auto': (P+3B)/(3B))\n"
    "  wall_s in the log is training time; evaluations are not counted.\n";

struct Flags {
  std::string data = "fashion-mnist", device = "auto", log, checkpoint, resume;
  double epochs = 0, seconds = 0, eval_seconds = 0;
  long long steps = 0, eval_every = 0;
  bool tau_auto = false, standardize = true;
  cuis::TrainConfig cfg;
};

int fail(int code, const std::string& msg) {
  std::fprintf(stderr, "cuis-train: error: %s\n", msg.c_str());
  return code;
}

bool to_double(const std::string& s, double* out) {
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return !s.empty() && *end == '\0' && std::isfinite(*out);
}
bool to_ll(const std::string& s, long long* out) {
  char* end = nullptr;
  *out = std::strtoll(s.c_str(), &end, 10);
  return !s.empty() && *end == '\0';
}
bool to_sizes(const std::string& s, std::vector<int32_t>* out) {
  out->clear();
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) {
    long long v = 0;
    if (!to_ll(part, &v) || v < 1 || v > (1 << 20)) return false;
    out->push_back(static_cast<int32_t>(v));
  }
  return !out->empty();
}

int parse(int argc, char** argv, Flags* f) {
  int stop_flags = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(USAGE, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) return fail(2, "flag " + a + " needs a value\n" + USAGE);
    const std::string v = argv[++i];
    double d = 0;
    long long n = 0;
    auto bad = [&](const char* what) { return fail(2, a + " must be " + what + ", got '" + v + "'"); };
    if (a == "--data") f->data = v;
    else if (a == "--sampler") { if (!cuis::parse_sampler(v, &f->cfg.sampler)) return bad("uniform, loss, gnorm or predicted"); }
    else if (a == "--k") { if (!to_double(v, &d)) return bad("a number"); f->cfg.k = static_cast<float>(d); }
    else if (a == "--smooth") { if (!to_double(v, &d)) return bad("a number"); f->cfg.smooth = static_cast<float>(d); }
    else if (a == "--adaptive-smooth") { if (!to_double(v, &d)) return bad("a number"); f->cfg.adaptive_smooth = static_cast<float>(d); }
    else if (a == "--power") { if (!to_double(v, &d)) return bad("a number"); f->cfg.power = static_cast<float>(d); }
    else if (a == "--presample") {
      if (v == "all") f->cfg.presample = cuis::PRESAMPLE_ALL;
      else if (!to_ll(v, &n) || n < 1) return bad("a positive integer or 'all'");
      else f->cfg.presample = n;
    }
    else if (a == "--warmup") { if (!to_ll(v, &n) || n < 0) return bad("an integer >= 0"); f->cfg.warmup = n; }
    else if (a == "--tau-th") {
      if (v == "auto") f->tau_auto = true;
      else if (!to_double(v, &d) || d < 0) return bad("a number >= 0 or 'auto'");
      else f->cfg.tau_th = static_cast<float>(d);
    }
    else if (a == "--batch") { if (!to_ll(v, &n) || n < 1) return bad("a positive integer"); f->cfg.batch = n; }
    else if (a == "--hidden") { if (!to_sizes(v, &f->cfg.hidden)) return bad("sizes like 512,512"); }
    else if (a == "--optimizer") {
      if (v == "sgd") f->cfg.optimizer.kind = cuis::OptimizerKind::sgd;
      else if (v == "adam") f->cfg.optimizer.kind = cuis::OptimizerKind::adam;
      else return bad("sgd or adam");
    }
    else if (a == "--lr") { if (!to_double(v, &d) || d < 0) return bad("a number >= 0"); f->cfg.optimizer.lr = static_cast<float>(d); }
    else if (a == "--momentum") { if (!to_double(v, &d)) return bad("a number"); f->cfg.optimizer.momentum = static_cast<float>(d); }
    else if (a == "--weight-decay") { if (!to_double(v, &d)) return bad("a number"); f->cfg.optimizer.weight_decay = static_cast<float>(d); }
    else if (a == "--epochs") { if (!to_double(v, &d) || d <= 0) return bad("a positive number"); f->epochs = d; ++stop_flags; }
    else if (a == "--steps") { if (!to_ll(v, &n) || n < 1) return bad("a positive integer"); f->steps = n; ++stop_flags; }
    else if (a == "--seconds") { if (!to_double(v, &d) || d <= 0) return bad("a positive number"); f->seconds = d; ++stop_flags; }
    else if (a == "--eval-every") { if (!to_ll(v, &n) || n < 1) return bad("a positive integer"); f->eval_every = n; }
    else if (a == "--eval-seconds") { if (!to_double(v, &d) || d <= 0) return bad("a positive number"); f->eval_seconds = d; }
    else if (a == "--seed") { if (!to_ll(v, &n) || n < 0) return bad("an integer >= 0"); f->cfg.seed = static_cast<uint64_t>(n); }
    else if (a == "--device") { if (v != "auto" && v != "cuda" && v != "cpu") return bad("auto, cuda or cpu"); f->device = v; }
    else if (a == "--tf32") { if (v != "on" && v != "off") return bad("on or off"); f->cfg.math = v == "on" ? cuis::Math::tf32 : cuis::Math::fp32; }
    else if (a == "--graph") { if (v != "on" && v != "off") return bad("on or off"); f->cfg.cuda_graph = v == "on"; }
    else if (a == "--normalize") {
      if (v != "standard" && v != "none") return bad("standard or none");
      f->standardize = v == "standard";
    }
    else if (a == "--log") f->log = v;
    else if (a == "--checkpoint") f->checkpoint = v;
    else if (a == "--resume") f->resume = v;
    else return fail(2, "unknown flag '" + a + "'\n" + USAGE);
  }
  if (stop_flags > 1) return fail(2, "give at most one of --epochs, --steps, --seconds");
  if (stop_flags == 0) f->epochs = 1;
  if (f->eval_every && f->eval_seconds > 0) return fail(2, "give at most one of --eval-every, --eval-seconds");
  return 0;
}

cuis::Error load_data(const std::string& spec, cuis::DataSplit* out) {
  if (spec == "fashion-mnist") return cuis::load_mnist_dir(cuis::FASHION_MNIST_DIR, out);
  if (spec.rfind("mnist:", 0) == 0) return cuis::load_mnist_dir(spec.substr(6), out);
  if (spec.rfind("cifar10:", 0) == 0) return cuis::load_cifar10_dir(spec.substr(8), out);
  if (spec == "synthetic") {
    *out = cuis::synthetic_data(8192, 2048, 32, 10, 12345);
    return cuis::Error::success;
  }
  return cuis::Error::invalid_argument;
}

bool gpu_present() {
  int n = 0;
  const bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
  (void)cudaGetLastError();
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  if (const int code = parse(argc, argv, &f)) return code;
  cuis::DataSplit data;
  if (const cuis::Error e = load_data(f.data, &data); e != cuis::Error::success) {
    if (e == cuis::Error::invalid_argument && cuis::last_error_message().empty())
      return fail(2, "--data must be fashion-mnist, mnist:DIR, cifar10:DIR or synthetic, got '" + f.data + "'");
    std::string msg = cuis::last_error_message();
    if (f.data == "fashion-mnist" && e == cuis::Error::io_error)
      msg += " (install Debian's dataset-fashion-mnist, or run ./scripts/setup as root)";
    return fail(1, "cannot load " + f.data + ": " + msg);
  }
  if (f.tau_auto) {  // (P + 3B) / 3B, with P = N for the whole training set
    const int64_t p = f.cfg.presample == cuis::PRESAMPLE_ALL ? data.train.rows : f.cfg.presample;
    f.cfg.tau_th = static_cast<float>(cuis::default_tau_threshold(p, f.cfg.batch));
  }
  if (f.standardize)
    if (cuis::standardize(&data) != cuis::Error::success) return fail(1, f.data + ": " + cuis::last_error_message());
  bool cuda = f.device == "cuda" || (f.device == "auto" && gpu_present());
  if (f.device == "cuda" && !gpu_present()) return fail(1, "--device cuda: no CUDA device is available");
  if (!cuda && f.cfg.math == cuis::Math::tf32) return fail(2, "--tf32 on: the CPU engine computes in FP32 only");
  std::unique_ptr<cuis::Trainer> trainer;
  const cuis::Error made = cuda ? cuis::make_cuda_trainer(f.cfg, &data, &trainer) : cuis::make_cpu_trainer(f.cfg, &data, &trainer);
  if (made != cuis::Error::success) {
    // A configuration the flags asked for is a flag error (2); a failing machine is not (1).
    const bool runtime = made == cuis::Error::no_device || made == cuis::Error::out_of_memory || made == cuis::Error::cuda_error;
    return fail(runtime ? 1 : 2, cuis::last_error_message());
  }
  if (!f.resume.empty())
    if (trainer->load(f.resume) != cuis::Error::success) return fail(1, "--resume: " + cuis::last_error_message());

  const int64_t steps_per_epoch = (data.train.rows + f.cfg.batch - 1) / f.cfg.batch;
  const long long total = f.steps ? f.steps : f.epochs > 0 ? static_cast<long long>(std::ceil(f.epochs * steps_per_epoch)) : 0;
  // Evaluate every --eval-every steps or --eval-seconds of training time; by
  // default ten times a run, and in a --seconds run every tenth of the budget
  // (samplers differ in speed).
  const double eval_seconds = f.eval_seconds > 0 ? f.eval_seconds : f.seconds > 0 && !f.eval_every ? f.seconds / 10.0 : 0.0;
  const long long eval_every = f.eval_every ? f.eval_every : total && eval_seconds == 0 ? std::max(1LL, total / 10) : (1LL << 62);
  std::FILE* log = nullptr;
  if (!f.log.empty()) {
    log = std::fopen(f.log.c_str(), "w");
    if (!log) return fail(1, "--log: cannot write " + f.log);
    std::fprintf(log, "step,epoch,wall_s,samples,batch_loss,train_loss,test_loss,test_error,sampler,tau\n");
  }
  const bool tty = ::isatty(2);
  std::fprintf(stderr, "cuis-train: %s on %s (%lld train / %lld test rows), engine %s, batch %lld\n",
               cuis::sampler_name(f.cfg.sampler), f.data.c_str(), static_cast<long long>(data.train.rows),
               static_cast<long long>(data.test.rows), trainer->engine(), static_cast<long long>(f.cfg.batch));

  using Clock = std::chrono::steady_clock;
  double trained_s = 0.0;
  cuis::TrainerStats st;
  if (trainer->stats(&st) != cuis::Error::success) return fail(1, cuis::last_error_message());
  const uint64_t first_step = st.step;
  auto evaluate = [&]() -> bool {
    double train_loss = 0, train_err = 0, test_loss = 0, test_err = 0;
    if (trainer->stats(&st) != cuis::Error::success || trainer->evaluate(false, &train_loss, &train_err) != cuis::Error::success ||
        trainer->evaluate(true, &test_loss, &test_err) != cuis::Error::success)
      return false;
    const double epoch = static_cast<double>(st.step) / static_cast<double>(steps_per_epoch);
    if (log) {
      std::fprintf(log, "%llu,%.4f,%.4f,%llu,%.6g,%.6g,%.6g,%.6g,%s,%.6g\n", static_cast<unsigned long long>(st.step),
                   epoch, trained_s, static_cast<unsigned long long>(st.step * f.cfg.batch), st.batch_loss, train_loss,
                   test_loss, test_err, cuis::sampler_name(f.cfg.sampler), st.tau);
      std::fflush(log);
    }
    std::fprintf(stderr, "%sstep %llu  epoch %.2f  %.1fs  train loss %.4f  test loss %.4f  test error %.2f%%%s\n",
                 tty ? "\r\033[K" : "", static_cast<unsigned long long>(st.step), epoch, trained_s, train_loss,
                 test_loss, 100.0 * test_err, st.importance ? "  (importance)" : "");
    if (!f.checkpoint.empty() && trainer->save(f.checkpoint) != cuis::Error::success) return false;
    return true;
  };
  if (!evaluate()) return fail(1, cuis::last_error_message());
  long long done = 0;
  for (;;) {
    if (total && done >= total) break;
    if (f.seconds > 0 && trained_s >= f.seconds) break;
    const auto t0 = Clock::now();
    long long chunk = eval_every;
    if (total) chunk = std::min(chunk, total - done);
    for (long long i = 0; i < chunk; ++i) {
      if (trainer->step() != cuis::Error::success) return fail(1, cuis::last_error_message());
      if ((f.seconds > 0 || eval_seconds > 0) && (!cuda || i % 20 == 19)) {  // the CUDA engine enqueues ahead: measure what ran
        if (cuda && trainer->stats(&st) != cuis::Error::success) return fail(1, cuis::last_error_message());
        const double ran = std::chrono::duration<double>(Clock::now() - t0).count();
        if ((f.seconds > 0 && trained_s + ran >= f.seconds) || (eval_seconds > 0 && ran >= eval_seconds)) {
          chunk = i + 1;
          break;
        }
      }
      if (tty && (i % 10 == 9)) {
        const long long at = done + i + 1;
        const int width = 30, fill = total ? static_cast<int>(width * at / total) : 0;
        std::fprintf(stderr, "\r[%.*s%*s] step %llu", fill, "==============================", width - fill, "",
                     static_cast<unsigned long long>(first_step + at));
      }
    }
    if (trainer->stats(&st) != cuis::Error::success) return fail(1, cuis::last_error_message());  // waits for the GPU
    trained_s += std::chrono::duration<double>(Clock::now() - t0).count();
    done += chunk;
    if (!evaluate()) return fail(1, cuis::last_error_message());
  }
  if (log) std::fclose(log);
  return 0;
}
