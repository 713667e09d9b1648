// cuis-train: trains the MLP with a chosen sampler and logs the run (flags:
// train_flags.cpp, or cuis-train --help). Says what it is about to do before
// it starts. Errors: one line on stderr, exit 2 for bad flags (and a
// --resume whose checkpoint another configuration wrote), 1 for everything
// else; nothing escapes main.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "core/binary_io.h"
#include "cuis/data.h"
#include "cuis/trainer.h"
#include "train_flags.h"
#include "train_log.h"
#include "train_loop.h"

namespace {

using cuis_train::fail;
using cuis_train::Flags;

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

std::string network(const Flags& f, const cuis::DataSplit& d) {
  std::string s = std::to_string(d.train.features);
  for (int32_t h : f.cfg.hidden) s += "-" + std::to_string(h);
  char opt[64];
  std::snprintf(opt, sizeof opt, "%s, lr %g", f.cfg.optimizer.kind == cuis::OptimizerKind::sgd ? "sgd" : "adam",
                static_cast<double>(f.cfg.optimizer.lr));
  return s + "-" + std::to_string(d.train.classes) + " (" + opt + ")";
}

std::string sampling(const Flags& f) {
  const cuis::TrainConfig& c = f.cfg;
  std::string s = std::string(cuis::sampler_name(c.sampler)) + " sampling";
  if (c.sampler == cuis::SamplerKind::uniform) return s;
  const std::string candidates = c.presample == cuis::PRESAMPLE_ALL ? "all" : std::to_string(c.presample);
  char b[160];
  std::snprintf(b, sizeof b, " (k %g, %s candidates, warm-up %lld, tau threshold %g)", static_cast<double>(c.k),
                candidates.c_str(), static_cast<long long>(c.warmup), static_cast<double>(c.tau_th));
  return s + b;
}

std::string budget(const Flags& f, const cuis_train::Budget& b) {
  char s[200];
  if (f.seconds > 0) std::snprintf(s, sizeof s, "%g s of training", f.seconds);
  else if (f.steps) std::snprintf(s, sizeof s, "%lld steps", static_cast<long long>(b.total_steps));
  else std::snprintf(s, sizeof s, "%g epoch%s (%lld steps)", f.epochs, f.epochs == 1 ? "" : "s",
                     static_cast<long long>(b.total_steps));
  std::string out = s;
  if (b.eval_every) std::snprintf(s, sizeof s, ", evaluating every %lld steps", static_cast<long long>(b.eval_every));
  else std::snprintf(s, sizeof s, ", evaluating every %g s of training", b.eval_seconds);
  return out + s;
}

int run(int argc, char** argv) {
  Flags f;
  if (const int code = cuis_train::parse_flags(argc, argv, &f); code >= 0) return code;
  cuis::TrainerCheckpoint saved;
  if (!f.resume.empty() && cuis::read_trainer_checkpoint(f.resume, &saved) != cuis::Error::success)
    return fail(1, "--resume: " + cuis::last_error_message());
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
  std::string resuming;
  if (!f.resume.empty()) {  // the library's load() checks the same; here the flags are named
    cuis::ConfigDifference d;
    cuis::DataIdentity here;
    if (cuis::compare_configs(saved.config, f.cfg, &d) != cuis::Error::success ||
        cuis::data_identity(data, &here) != cuis::Error::success)
      return fail(1, cuis::last_error_message());
    if (!d.field.empty()) return fail(2, "--resume: " + cuis_train::describe_difference(d));
    const cuis::DataIdentity& s = saved.data;
    if (s.train_rows != here.train_rows || s.test_rows != here.test_rows || s.features != here.features ||
        s.classes != here.classes || s.checksum != here.checksum) {
      const bool values = s.train_rows == here.train_rows && s.test_rows == here.test_rows &&
                          s.features == here.features && s.classes == here.classes;
      return fail(2, "--resume: the checkpoint was written on other data: " + cuis::describe(s) + "; this run's --data " +
                         f.data + ": " + cuis::describe(here) +
                         (values ? " (the same sizes, other values: another --normalize, or other files)" : ""));
    }
    char b[120];
    std::snprintf(b, sizeof b, " at step %llu (%.1f s of training)", static_cast<unsigned long long>(saved.stats.step),
                  saved.train_seconds);
    resuming = "cuis-train: resuming " + f.resume + b;
  }
  const bool gpu = f.device != "cpu" && gpu_present();
  if (f.device == "cuda" && !gpu) return fail(1, "--device cuda: no CUDA device is available");
  if (!gpu && f.cfg.math == cuis::Math::tf32) return fail(2, "--tf32 on: the CPU engine computes in FP32 only");
  if (!gpu && f.cfg.backend != cuis::MlpBackend::cublas)
    return fail(2, std::string("--backend ") + cuis::backend_name(f.cfg.backend) +
                       ": the CPU engine has its own plain GEMMs (--backend is the CUDA engine's)");
  std::unique_ptr<cuis::Trainer> trainer;
  const cuis::Error made =
      gpu ? cuis::make_cuda_trainer(f.cfg, &data, &trainer) : cuis::make_cpu_trainer(f.cfg, &data, &trainer);
  if (made != cuis::Error::success) {
    // A configuration the flags asked for is a flag error (2); a failing machine is not (1).
    const bool runtime = made == cuis::Error::no_device || made == cuis::Error::out_of_memory ||
                         made == cuis::Error::cuda_error || made == cuis::Error::internal_error;
    return fail(runtime ? 1 : 2, cuis::last_error_message());
  }
  if (!f.resume.empty() && trainer->load(f.resume) != cuis::Error::success)
    return fail(1, "--resume: " + cuis::last_error_message());
  const cuis_train::Budget b = cuis_train::make_budget(f, data.train.rows);
  if (f.epochs > 0 && b.total_steps < 1)
    return fail(2, "--epochs " + std::to_string(f.epochs) + " is more than 2^62 steps of this data");
  if (!f.checkpoint.empty() && cuis::detail::check_file(f.checkpoint, false) != cuis::Error::success)
    return fail(1, "--checkpoint: " + cuis::last_error_message());  // before training, not at the first write
  cuis_train::TrainLog log;
  std::string error;
  if (!f.log.empty() && !log.open(f.log, !f.resume.empty(), saved.stats.step, &error)) return fail(1, error);

  std::fprintf(stderr, "cuis-train: %s, batch %lld, seed %llu, network %s\n", sampling(f).c_str(),
               static_cast<long long>(f.cfg.batch), static_cast<unsigned long long>(f.cfg.seed),
               network(f, data).c_str());
  std::fprintf(stderr, "cuis-train: data %s: %lld train / %lld test rows, %s\n", f.data.c_str(),
               static_cast<long long>(data.train.rows), static_cast<long long>(data.test.rows),
               f.standardize ? "standardised" : "pixels in [0, 1]");
  std::fprintf(stderr, "cuis-train: engine %s%s, dense layers %s; %s; log %s, checkpoint %s\n", trainer->engine(),
               f.device == "auto" && !gpu ? " (--device auto: no CUDA device found, so the CPU reference engine runs)"
                                          : "",
               trainer->dense_backend().c_str(),
               budget(f, b).c_str(), f.log.empty() ? "none" : f.log.c_str(),
               f.checkpoint.empty() ? "none" : f.checkpoint.c_str());
  if (!resuming.empty()) {
    std::fprintf(stderr, "%s\n", resuming.c_str());
    if (saved.engine != trainer->engine())
      std::fprintf(stderr, "cuis-train: note: the checkpoint was written by the %s engine; on the %s engine the run "
                   "continues to FP32 rounding, not bit for bit\n", saved.engine.c_str(), trainer->engine());
  }
  return cuis_train::train(*trainer, f, b, gpu, &log);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuis-train: error: unexpected failure: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "cuis-train: error: unexpected failure\n");
  }
  return 1;
}
