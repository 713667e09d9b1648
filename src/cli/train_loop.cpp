// The training loop of cuis-train.
#include "train_loop.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

namespace cuis_train {

Budget make_budget(const Flags& f, int64_t train_rows) {
  Budget b;
  b.steps_per_epoch = (train_rows + f.cfg.batch - 1) / f.cfg.batch;
  const double epoch_steps = std::ceil(f.epochs * static_cast<double>(b.steps_per_epoch));
  b.total_steps = f.steps              ? f.steps
                  : f.epochs <= 0      ? 0
                  : epoch_steps > 0x1p62 ? -1  // refused by the caller: more steps than a run may have
                                         : static_cast<int64_t>(epoch_steps);
  b.seconds = f.seconds;
  // Every --eval-every steps or --eval-seconds of training time; by default
  // ten times a run, and in a --seconds run every tenth of the budget
  // (samplers differ in speed).
  b.eval_seconds = f.eval_seconds > 0 ? f.eval_seconds : f.seconds > 0 && !f.eval_every ? f.seconds / 10.0 : 0.0;
  b.eval_every = f.eval_every ? f.eval_every : b.total_steps && b.eval_seconds == 0 ? std::max<int64_t>(1, b.total_steps / 10) : 0;
  return b;
}

namespace {

using Clock = std::chrono::steady_clock;

void progress(const Budget& b, uint64_t step, double trained_s) {
  const double done = b.total_steps ? static_cast<double>(step) / static_cast<double>(b.total_steps)
                                    : trained_s / b.seconds;
  const int width = 30, fill = std::clamp(static_cast<int>(width * done), 0, width);
  std::fprintf(stderr, "\r[%.*s%*s] step %llu  %.1fs", fill, "==============================", width - fill, "",
               static_cast<unsigned long long>(step), trained_s);
}

}  // namespace

int train(cuis::Trainer& t, const Flags& f, const Budget& b, bool cuda, TrainLog* log) {
  const bool tty = ::isatty(2);
  double trained_s = t.train_seconds();
  cuis::TrainerStats st;
  auto failed = [&] { return fail(1, cuis::last_error_message()); };
  // 0, or the exit code after the error is printed.
  auto evaluate = [&]() -> int {
    double train_loss = 0, train_err = 0, test_loss = 0, test_err = 0;
    if (t.stats(&st) != cuis::Error::success || t.evaluate(false, &train_loss, &train_err) != cuis::Error::success ||
        t.evaluate(true, &test_loss, &test_err) != cuis::Error::success)
      return failed();
    const double epoch = static_cast<double>(st.step) / static_cast<double>(b.steps_per_epoch);
    double corr = 0;
    if (f.eval_scores && t.score_quality(&corr) != cuis::Error::success) return failed();
    if (!log->has_row(st.step) &&
        !log->write(LogRow{st.step, epoch, trained_s, st.step * static_cast<uint64_t>(f.cfg.batch), st.batch_loss,
                           train_loss, test_loss, test_err, cuis::sampler_name(f.cfg.sampler), st.tau, f.eval_scores,
                           corr}))
      return fail(1, "--log: cannot write " + f.log);
    std::fprintf(stderr, "%sstep %llu  epoch %.2f  %.1fs  train loss %.4f  test loss %.4f  test error %.2f%%%s\n",
                 tty ? "\r\033[K" : "", static_cast<unsigned long long>(st.step), epoch, trained_s, train_loss,
                 test_loss, 100.0 * test_err, st.importance ? "  (importance)" : "");
    t.set_train_seconds(trained_s);
    if (!f.checkpoint.empty() && t.save(f.checkpoint) != cuis::Error::success)
      return fail(1, "--checkpoint: " + cuis::last_error_message());
    return 0;
  };
  if (const int code = evaluate()) return code;
  if ((b.total_steps && st.step >= static_cast<uint64_t>(b.total_steps)) || (b.seconds > 0 && trained_s >= b.seconds))
    std::fprintf(stderr, "cuis-train: the run is at step %llu, %.1f s of training: its budget is spent\n",
                 static_cast<unsigned long long>(st.step), trained_s);
  const bool timed = b.seconds > 0 || b.eval_seconds > 0;
  for (;;) {
    const uint64_t step = st.step;
    if (b.total_steps && step >= static_cast<uint64_t>(b.total_steps)) break;
    if (b.seconds > 0 && trained_s >= b.seconds) break;
    // The next evaluation: the next multiple of the interval, or the end.
    uint64_t stop = b.total_steps ? static_cast<uint64_t>(b.total_steps) : std::numeric_limits<uint64_t>::max();
    if (b.eval_every) stop = std::min<uint64_t>(stop, (step / b.eval_every + 1) * b.eval_every);
    double until = b.seconds > 0 ? b.seconds : std::numeric_limits<double>::infinity();
    if (b.eval_seconds > 0) until = std::min(until, (std::floor(trained_s / b.eval_seconds) + 1) * b.eval_seconds);
    const auto t0 = Clock::now();
    for (uint64_t s = step; s < stop;) {
      if (t.step() != cuis::Error::success) return failed();
      ++s;
      const uint64_t n = s - step;
      // The CUDA engine enqueues ahead: measure what ran.
      if (timed && (!cuda || n % 20 == 0)) {
        if (cuda && t.stats(&st) != cuis::Error::success) return failed();
        if (trained_s + std::chrono::duration<double>(Clock::now() - t0).count() >= until) break;
      }
      if (tty && n % 10 == 0) progress(b, s, trained_s + std::chrono::duration<double>(Clock::now() - t0).count());
    }
    if (t.stats(&st) != cuis::Error::success) return failed();  // waits for the GPU
    trained_s += std::chrono::duration<double>(Clock::now() - t0).count();
    if (const int code = evaluate()) return code;
  }
  return 0;
}

}  // namespace cuis_train
