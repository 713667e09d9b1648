// The CUDA training engine: its batches exactly the reference sampler's draws
// from its own scores, against the CPU engine step by step (to FP32 tolerance,
// with a bound on draws that rounding may move), graph replay equal to plain
// steps, and its own exact resume.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common/gpu_fixture.h"
#include "common/temp_path.h"
#include "common/train_data.h"
#include "cuis/nn/checkpoint.h"
#include "cuis/sampler/reference.h"
#include "cuis/trainer.h"
#include "reference_draws.h"
#include "train/trainer_common.h"
#include "train/trainer_state.h"

namespace {

using cuis::Error;
using namespace cuis_test;

const cuis::DataSplit& data() { return trainer_data(); }
cuis::TrainConfig config(cuis::SamplerKind s) {
  cuis::TrainConfig c = small_config(s);
  c.warmup = 2;
  return c;
}

class TrainerGpu : public Gpu {};

std::unique_ptr<cuis::Trainer> cuda_trainer(const cuis::TrainConfig& c) {
  std::unique_ptr<cuis::Trainer> t;
  EXPECT_EQ(cuis::make_cuda_trainer(c, &data(), &t), Error::success) << cuis::last_error_message();
  return t;
}

// Host outputs start as values no call writes, so that an output a call
// leaves alone cannot compare equal (or close) to the other engine's.
cuis::TrainerStats unwritten_stats() {
  cuis::TrainerStats s;
  s.step = ~uint64_t{0};
  s.batch_loss = s.mean_loss = s.tau = NAN;
  return s;
}
cuis::StepRecord unwritten_record(int64_t sentinel) {
  cuis::StepRecord r;
  r.step = ~uint64_t{0};
  r.candidates = {sentinel};
  r.scores = {NAN};
  r.indices = {sentinel};
  r.weights = {NAN};
  return r;
}

// Independently known values for t's last step (step `step`, after which
// `stats_before` were the running numbers): its candidates are the reference's
// uniform draws (or the whole set), its batch the first uniform draws (weight
// 1) or, by importance, the CPU reference sampler's draws from the step's own
// candidate scores, bit for bit (as tests/train/reference_draws.h checks).
void expect_last_step_is_reference(cuis::Trainer& t, const cuis::TrainConfig& c, uint64_t step,
                                   const cuis::TrainerStats& stats_before, const std::string& what) {
  cuis::StepRecord r = unwritten_record(-7);
  ASSERT_EQ(t.last_step(&r), Error::success) << what << ": " << cuis::last_error_message();
  expect_step_is_reference(r, c, data().train.rows, step, stats_before.mean_loss, what);
}

// The main network as t saves it (the file is removed again).
cuis::Checkpoint saved(cuis::Trainer& t, const std::string& name) {
  const std::string path = cuis_test::temp_path(name);
  cuis::TrainerCheckpoint c;
  EXPECT_EQ(t.save(path), Error::success) << cuis::last_error_message();
  EXPECT_EQ(cuis::read_trainer_checkpoint(path, &c), Error::success) << cuis::last_error_message();
  std::remove(path.c_str());
  return c.network;
}

// The CUDA engine against the CPU engine, one step at a time from the same
// state (before each step the CUDA engine's files are loaded into a fresh CPU
// engine). Exact: the candidates and the importance decision. To FP32
// tolerance: the candidate scores and tau (GEMM summation order, FMA).
// Different scores move the inverse-CDF intervals, so a draw may land in a
// neighbouring row: a draw u differs between the engines only if it falls
// between F_gpu(j) and F_cpu(j) for some j, so with probability at most
// D = sum_j |F_gpu(j) - F_cpu(j)|, and the number m of differing draws among B
// is at most Binomial(B, D). A count whose tail bound C(B, m) D^m is below
// alpha = 1e-6 fails. Where no draw differs, the weights and the batch loss
// agree to FP32 tolerance.
void expect_engines_agree(const cuis::TrainConfig& c, int steps) {
  ASSERT_EQ(c.power, 1.0f) << "the bound below computes the CDF without power smoothing";
  ASSERT_EQ(c.tau_th, 0.0f) << "the importance decision must not depend on rounding";
  // One tile (<= 2048 candidates): a draw is one variate against one CDF, which the bound below needs
  // (over several tiles the tile and the item are drawn separately).
  ASSERT_LE(cuis::detail::candidates_per_step(c, data().train.rows), 2048);
  std::unique_ptr<cuis::Trainer> gpu = cuda_trainer(c);
  ASSERT_TRUE(gpu);
  const std::string path = cuis_test::temp_path("cuis_gpu_agree");
  for (int i = 0; i < steps; ++i) {
    cuis::TrainerStats before = unwritten_stats();
    CUIS_OK(gpu->stats(&before));
    EXPECT_EQ(before.step, static_cast<uint64_t>(i));
    CUIS_OK(gpu->save(path));
    std::unique_ptr<cuis::Trainer> cpu;
    CUIS_OK(cuis::make_cpu_trainer(c, &data(), &cpu));
    CUIS_OK(cpu->load(path));
    CUIS_OK(gpu->step());
    CUIS_OK(cpu->step());
    cuis::TrainerStats a = unwritten_stats(), b = unwritten_stats();
    CUIS_OK(gpu->stats(&a));  // also the CUDA engine's device status: a failed stage is an error here
    CUIS_OK(cpu->stats(&b));
    EXPECT_EQ(a.step, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(b.step, static_cast<uint64_t>(i + 1));
    cuis::StepRecord g = unwritten_record(-7), h = unwritten_record(-8);
    CUIS_OK(gpu->last_step(&g));
    CUIS_OK(cpu->last_step(&h));
    EXPECT_EQ(g.step, static_cast<uint64_t>(i));
    EXPECT_EQ(h.step, static_cast<uint64_t>(i));
    ASSERT_EQ(g.indices.size(), static_cast<size_t>(c.batch)) << "step " << i;
    ASSERT_EQ(h.indices.size(), static_cast<size_t>(c.batch)) << "step " << i;
    ASSERT_EQ(g.weights.size(), static_cast<size_t>(c.batch)) << "step " << i;
    ASSERT_EQ(h.weights.size(), static_cast<size_t>(c.batch)) << "step " << i;
    EXPECT_EQ(a.importance, b.importance) << "step " << i;
    EXPECT_EQ(g.candidates, h.candidates) << "step " << i;
    ASSERT_EQ(g.scores.size(), h.scores.size());
    for (size_t j = 0; j < g.scores.size(); ++j)
      ASSERT_NEAR(g.scores[j], h.scores[j], 1e-4 * std::fabs(h.scores[j]) + 1e-6) << "step " << i << " candidate " << j;
    EXPECT_NEAR(a.tau, b.tau, 1e-4 * b.tau) << "step " << i;
    const float shift = c.smooth + c.adaptive_smooth * static_cast<float>(before.mean_loss);
    double tg = 0, th = 0, fg = 0, fh = 0, d = 0;
    for (size_t j = 0; j < g.scores.size(); ++j) {
      tg += double{g.scores[j]} + shift;
      th += double{h.scores[j]} + shift;
    }
    for (size_t j = 0; j < g.scores.size(); ++j) {
      fg += (double{g.scores[j]} + shift) / tg;
      fh += (double{h.scores[j]} + shift) / th;
      d += std::fabs(fg - fh);
    }
    int64_t m = 0;
    for (size_t j = 0; j < g.indices.size(); ++j) m += g.indices[j] != h.indices[j];
    if (m > 0) {
      const double bt = static_cast<double>(c.batch),
                   log_tail = std::lgamma(bt + 1) - std::lgamma(m + 1.0) - std::lgamma(bt - m + 1) + m * std::log(d);
      EXPECT_GT(log_tail, std::log(1e-6))
          << "step " << i << ": " << m << " of " << c.batch << " draws differ, more than D = " << d << " allows";
      continue;
    }
    for (size_t j = 0; j < g.weights.size(); ++j)
      EXPECT_NEAR(g.weights[j], h.weights[j], 1e-4 * std::fabs(h.weights[j])) << "step " << i << " draw " << j;
    EXPECT_NEAR(a.batch_loss, b.batch_loss, 1e-4 * b.batch_loss) << "step " << i;
  }
  std::remove(path.c_str());
}

// What is exact (tests/train/reference_draws.h).
TEST_F(TrainerGpu, BatchesAreTheReferenceDrawsFromTheEnginesScores) {
  expect_reference_draws(cuis::make_cuda_trainer, data(), config(cuis::SamplerKind::loss).warmup);
}

// Uniform batches are the same on both engines; the networks agree to FP32 tolerance.
TEST_F(TrainerGpu, UniformMatchesCpuEngine) {
  std::unique_ptr<cuis::Trainer> gpu, cpu;
  CUIS_OK(cuis::make_cuda_trainer(config(cuis::SamplerKind::uniform), &data(), &gpu));
  CUIS_OK(cuis::make_cpu_trainer(config(cuis::SamplerKind::uniform), &data(), &cpu));
  for (int i = 0; i < 5; ++i) {
    CUIS_OK(gpu->step());
    CUIS_OK(cpu->step());
  }
  cuis::TrainerStats a = unwritten_stats(), b = unwritten_stats();
  CUIS_OK(gpu->stats(&a));
  CUIS_OK(cpu->stats(&b));
  EXPECT_EQ(a.step, 5u);
  EXPECT_EQ(b.step, 5u);
  EXPECT_NEAR(a.mean_loss, b.mean_loss, 1e-4 * b.mean_loss);
  double gl = NAN, ge = NAN, cl = NAN, ce = NAN;
  CUIS_OK(gpu->evaluate(true, &gl, &ge));
  CUIS_OK(cpu->evaluate(true, &cl, &ce));
  EXPECT_NEAR(gl, cl, 1e-4 * cl);
}

TEST_F(TrainerGpu, EverySamplerTrainsAndResumesExactly) {
  for (cuis::SamplerKind s : {cuis::SamplerKind::uniform, cuis::SamplerKind::loss, cuis::SamplerKind::gnorm,
                              cuis::SamplerKind::predicted, cuis::SamplerKind::cache}) {
    const std::string path = cuis_test::temp_path(std::string("resume_") + cuis::sampler_name(s));
    std::unique_ptr<cuis::Trainer> straight = cuda_trainer(config(s)), first = cuda_trainer(config(s)),
                                   resumed = cuda_trainer(config(s));
    ASSERT_TRUE(straight && first && resumed);
    double before = NAN, after = NAN, err = NAN;
    CUIS_OK(straight->evaluate(false, &before, &err));
    for (int i = 0; i < 12; ++i) CUIS_OK(straight->step());
    cuis::TrainerStats st = unwritten_stats();
    CUIS_OK(straight->stats(&st));
    EXPECT_EQ(st.step, 12u);
    EXPECT_EQ(st.importance, s != cuis::SamplerKind::uniform);
    err = NAN;
    CUIS_OK(straight->evaluate(false, &after, &err));
    EXPECT_LT(after, before) << cuis::sampler_name(s);
    EXPECT_TRUE(err >= 0.0 && err <= 1.0) << err;
    for (int i = 0; i < 6; ++i) CUIS_OK(first->step());
    CUIS_OK(first->save(path));
    CUIS_OK(resumed->load(path));
    for (int i = 0; i < 5; ++i) CUIS_OK(resumed->step());
    cuis::TrainerStats mid = unwritten_stats();
    CUIS_OK(resumed->stats(&mid));
    EXPECT_EQ(mid.step, 11u);
    CUIS_OK(resumed->step());
    // The resumed run's last step from its restored RNG offsets and mean loss.
    expect_last_step_is_reference(*resumed, config(s), 11, mid, std::string("resumed ") + cuis::sampler_name(s));
    EXPECT_EQ(saved(*straight, "cuis_gpu_straight").params, saved(*resumed, "cuis_gpu_resumed").params)
        << cuis::sampler_name(s);
    std::remove(path.c_str());
  }
}

// The captured step replayed equals the plain enqueued steps bit for bit,
// through warm-up and importance steps, for every sampler and for the whole
// training set as candidates.
TEST_F(TrainerGpu, GraphStepsEqualPlainSteps) {
  std::vector<cuis::TrainConfig> configs;
  for (cuis::SamplerKind s : {cuis::SamplerKind::uniform, cuis::SamplerKind::loss, cuis::SamplerKind::gnorm,
                              cuis::SamplerKind::predicted, cuis::SamplerKind::cache})
    configs.push_back(config(s));
  configs.push_back(config(cuis::SamplerKind::predicted));
  configs.back().presample = cuis::PRESAMPLE_ALL;
  configs.push_back(config(cuis::SamplerKind::predicted));
  configs.back().predictor_log = true;
  for (const cuis::TrainConfig& base : configs) {
    const std::string what =
        std::string(cuis::sampler_name(base.sampler)) + (base.presample == cuis::PRESAMPLE_ALL ? " all" : "");
    cuis::TrainConfig with = base, without = base;
    with.cuda_graph = true;
    without.cuda_graph = false;
    std::unique_ptr<cuis::Trainer> a = cuda_trainer(with), b = cuda_trainer(without);
    ASSERT_TRUE(a && b);
    for (int i = 0; i < 8; ++i) {
      CUIS_OK(a->step());
      CUIS_OK(b->step());
    }
    cuis::TrainerStats mid = unwritten_stats();
    CUIS_OK(a->stats(&mid));
    EXPECT_EQ(mid.step, 8u) << what;
    CUIS_OK(a->step());
    CUIS_OK(b->step());
    cuis::TrainerStats sa = unwritten_stats(), sb = unwritten_stats();
    CUIS_OK(a->stats(&sa));  // also the device status of every step: a failed stage is an error here
    CUIS_OK(b->stats(&sb));
    EXPECT_EQ(sa.step, 9u);
    EXPECT_EQ(sa.step, sb.step);
    EXPECT_EQ(sa.mean_loss, sb.mean_loss) << what;
    EXPECT_EQ(sa.tau, sb.tau) << what;
    EXPECT_EQ(saved(*a, "cuis_gpu_graph").params, saved(*b, "cuis_gpu_plain").params) << what;
    // The replayed step against independently known values, and the plain
    // step's record equal to the replayed one's, bit for bit.
    expect_last_step_is_reference(*a, with, 8, mid, what + " replayed");
    cuis::StepRecord ra = unwritten_record(-7), rb = unwritten_record(-8);
    CUIS_OK(a->last_step(&ra));
    CUIS_OK(b->last_step(&rb));
    EXPECT_EQ(ra.step, rb.step) << what;
    EXPECT_EQ(ra.importance, rb.importance) << what;
    EXPECT_EQ(ra.candidates, rb.candidates) << what;
    EXPECT_EQ(ra.scores, rb.scores) << what;
    EXPECT_EQ(ra.indices, rb.indices) << what;
    EXPECT_EQ(ra.weights, rb.weights) << what;
  }
}

TEST_F(TrainerGpu, LossSamplerMatchesCpuEngine) { expect_engines_agree(config(cuis::SamplerKind::loss), 8); }

TEST_F(TrainerGpu, GradientNormSamplerMatchesCpuEngine) { expect_engines_agree(config(cuis::SamplerKind::gnorm), 6); }

TEST_F(TrainerGpu, CacheSamplerMatchesCpuEngine) { expect_engines_agree(config(cuis::SamplerKind::cache), 8); }

TEST_F(TrainerGpu, LogPredictorMatchesCpuEngine) {
  cuis::TrainConfig c = config(cuis::SamplerKind::predicted);
  c.predictor_log = true;
  expect_engines_agree(c, 6);
}

// Spearman's rank correlation of the sampler's scores with the losses over
// the whole training set, from the same checkpoint on both engines. FP32
// rounding can swap near-ties, and one swap moves the correlation by up to
// about 1.2e-5 at N = 1000: hence 1e-4. The predictor scores every unseen row
// of a class alike (its features are then the label alone): exact ties on the
// CPU, which a GPU chunk run by another GEMM kernel may split: splitting off
// the last chunk's ~20 rows of a ~200-row tie moves the correlation by about
// 1.4e-3 per class (a desk estimate: 2.7e-3 over 4 classes, so 5e-3 would fail
// about 6% of the time), hence 1.5e-2 (a wrong chunk or row moves the
// correlation by far more: a printed |a - b| of 1e-3 to 1e-2 means split
// ties, far larger a scoring error). P = 300
// leaves the predictor a last chunk of 100 rows. The loss sampler is left out:
// its scores are the losses, so its correlation is 1 whatever was scored.
TEST_F(TrainerGpu, ScoreQualityMatchesCpuEngine) {
  const std::string path = cuis_test::temp_path("cuis_gpu_quality");
  for (const cuis::SamplerKind s : {cuis::SamplerKind::gnorm, cuis::SamplerKind::cache, cuis::SamplerKind::predicted}) {
    cuis::TrainConfig c = config(s);
    c.presample = 300;
    const std::unique_ptr<cuis::Trainer> gpu = cuda_trainer(c);
    ASSERT_TRUE(gpu);
    for (int i = 0; i < 6; ++i) CUIS_OK(gpu->step());
    CUIS_OK(gpu->save(path));
    std::unique_ptr<cuis::Trainer> cpu;
    CUIS_OK(cuis::make_cpu_trainer(c, &data(), &cpu));
    CUIS_OK(cpu->load(path));
    double a = NAN, b = NAN, again = NAN;
    CUIS_OK(gpu->score_quality(&a));
    CUIS_OK(cpu->score_quality(&b));
    EXPECT_NEAR(a, b, s == cuis::SamplerKind::predicted ? 1.5e-2 : 1e-4) << cuis::sampler_name(s);
    CUIS_OK(gpu->score_quality(&again));  // its buffers reused
    EXPECT_EQ(again, a) << cuis::sampler_name(s);
  }
  std::remove(path.c_str());
}

// score_quality between steps changes nothing a step computes: a run that
// calls it (twice, after its step was captured) goes on exactly as one that
// does not.
TEST_F(TrainerGpu, ScoreQualityLeavesTheRunAlone) {
  for (const cuis::SamplerKind s : {cuis::SamplerKind::gnorm, cuis::SamplerKind::cache, cuis::SamplerKind::predicted}) {
    cuis::TrainConfig c = config(s);
    c.presample = 300;
    const std::unique_ptr<cuis::Trainer> a = cuda_trainer(c), b = cuda_trainer(c);
    ASSERT_TRUE(a && b);
    for (int i = 0; i < 3; ++i) {
      CUIS_OK(a->step());
      CUIS_OK(b->step());
    }
    double rho = NAN;
    CUIS_OK(a->score_quality(&rho));
    CUIS_OK(a->score_quality(&rho));
    for (int i = 0; i < 3; ++i) {
      CUIS_OK(a->step());
      CUIS_OK(b->step());
    }
    cuis::TrainerStats sa = unwritten_stats(), sb = unwritten_stats();
    CUIS_OK(a->stats(&sa));
    CUIS_OK(b->stats(&sb));
    EXPECT_EQ(sa.step, 6u);
    EXPECT_EQ(sa.mean_loss, sb.mean_loss) << cuis::sampler_name(s);
    cuis::StepRecord ra = unwritten_record(-7), rb = unwritten_record(-8);
    CUIS_OK(a->last_step(&ra));
    CUIS_OK(b->last_step(&rb));
    EXPECT_EQ(ra.scores, rb.scores) << cuis::sampler_name(s);
    EXPECT_EQ(ra.indices, rb.indices) << cuis::sampler_name(s);
    EXPECT_EQ(ra.weights, rb.weights) << cuis::sampler_name(s);
    EXPECT_EQ(saved(*a, "cuis_gpu_quality_a").params, saved(*b, "cuis_gpu_quality_b").params) << cuis::sampler_name(s);
  }
}

// Another backend of the dense layers in the whole step, the predictor's
// small network included (cuDNN where it runs here; else it says why).
void expect_backend_agrees(cuis::MlpBackend b) {
  cuis::TrainConfig c = config(cuis::SamplerKind::predicted);
  c.backend = b;
  const std::unique_ptr<cuis::Trainer> t = cuda_trainer(c);
  ASSERT_TRUE(t);
  const std::string used = t->dense_backend();
  std::printf("[ note     ] --backend %s: %s\n", cuis::backend_name(b), used.c_str());
  if (used.rfind(cuis::backend_name(b), 0) != 0) {
    EXPECT_EQ(b, cuis::MlpBackend::cudnn) << "only cuDNN may fall back: " << used;
    GTEST_SKIP() << "cudnn fell back to cublas: " << used;
  }
  expect_engines_agree(c, 6);
}

TEST_F(TrainerGpu, CublasLtBackendMatchesCpuEngine) { expect_backend_agrees(cuis::MlpBackend::cublaslt); }

// (scripts/gpu-check runs the cuDNN tests in their own phase, tests-cudnn: their init may be slow.)
TEST_F(TrainerGpu, CudnnBackendMatchesCpuEngine) { expect_backend_agrees(cuis::MlpBackend::cudnn); }

// The whole training set as candidates, scored by the predictor.
TEST_F(TrainerGpu, WholeSetPredictedMatchesCpuEngine) {
  cuis::TrainConfig c = config(cuis::SamplerKind::predicted);
  c.presample = cuis::PRESAMPLE_ALL;
  expect_engines_agree(c, 6);
}

// The loss histories the predictor learns from: during a long warm-up both
// engines train on the same uniform batches (with repeated rows at B = 32 of
// N = 1000), so the seen counts agree exactly and the stored losses to FP32
// tolerance, which checks the CUDA engine's last-occurrence rule.
TEST_F(TrainerGpu, PredictorHistoriesMatchCpuEngine) {
  cuis::TrainConfig c = config(cuis::SamplerKind::predicted);
  c.warmup = 1000;
  std::unique_ptr<cuis::Trainer> gpu, cpu;
  CUIS_OK(cuis::make_cuda_trainer(c, &data(), &gpu));
  CUIS_OK(cuis::make_cpu_trainer(c, &data(), &cpu));
  for (int i = 0; i < 20; ++i) {
    CUIS_OK(gpu->step());
    CUIS_OK(cpu->step());
  }
  const std::string path = cuis_test::temp_path("cuis_gpu_histories");
  CUIS_OK(gpu->save(path + ".g"));
  CUIS_OK(cpu->save(path + ".c"));
  cuis::detail::LoopState g, h;
  g.seen = {-1};
  h.seen = {-2};
  g.history = {NAN};
  h.history = {NAN, NAN};
  CUIS_OK(cuis::detail::read_loop_state(path + ".g", &g));
  CUIS_OK(cuis::detail::read_loop_state(path + ".c", &h));
  EXPECT_EQ(g.stats.step, 20u);
  EXPECT_EQ(h.stats.step, 20u);
  EXPECT_EQ(g.seen, h.seen);
  EXPECT_TRUE(std::any_of(h.seen.begin(), h.seen.end(), [](int32_t n) { return n > 0; })) << "no row seen";
  ASSERT_EQ(g.history.size(), h.history.size());
  int64_t differing = 0;
  for (size_t i = 0; i < g.history.size(); ++i)
    differing += std::fabs(g.history[i] - h.history[i]) > 1e-4f * std::fabs(h.history[i]) + 1e-6f;
  EXPECT_EQ(differing, 0);
  for (const char* which : {".g", ".c"}) std::remove((path + which).c_str());
}

// load() after the step was captured: the replayed steps continue from the
// checkpoint (the graph is captured again after one eager step), with or
// without a graph; a checkpoint of another learning rate is refused by name,
// leaving the captured trainer as it was.
TEST_F(TrainerGpu, LoadAfterCaptureContinuesTheCheckpoint) {
  const std::string path = cuis_test::temp_path("cuis_gpu_reload");
  std::unique_ptr<cuis::Trainer> source = cuda_trainer(config(cuis::SamplerKind::loss));
  ASSERT_TRUE(source);
  for (int i = 0; i < 4; ++i) CUIS_OK(source->step());
  CUIS_OK(source->save(path));
  cuis::TrainerCheckpoint loaded;
  CUIS_OK(cuis::read_trainer_checkpoint(path, &loaded));
  EXPECT_EQ(loaded.network.step, 4u);
  EXPECT_EQ(loaded.stats.step, 4u);
  EXPECT_EQ(loaded.engine, "cuda");
  cuis::Checkpoint after[2];
  for (bool graph : {true, false}) {
    cuis::TrainConfig c = config(cuis::SamplerKind::loss);
    c.cuda_graph = graph;
    std::unique_ptr<cuis::Trainer> t = cuda_trainer(c);
    ASSERT_TRUE(t);
    for (int i = 0; i < 3; ++i) CUIS_OK(t->step());  // eager, captured, replayed
    CUIS_OK(t->load(path));
    for (int i = 0; i < 4; ++i) CUIS_OK(t->step());
    cuis::TrainerStats mid = unwritten_stats();
    CUIS_OK(t->stats(&mid));
    EXPECT_EQ(mid.step, 8u);  // the checkpoint's 4, then 4
    CUIS_OK(t->step());
    expect_last_step_is_reference(*t, c, 8, mid, graph ? "graph" : "plain");
    after[graph] = saved(*t, "cuis_gpu_reloaded");
    EXPECT_EQ(after[graph].step, 9u);
    EXPECT_NE(after[graph].params, loaded.network.params) << "the steps after load() changed nothing";
  }
  EXPECT_EQ(after[0].params, after[1].params);
  cuis::TrainConfig other = config(cuis::SamplerKind::loss);
  other.optimizer.lr = 0.05f;
  std::unique_ptr<cuis::Trainer> t = cuda_trainer(other);
  ASSERT_TRUE(t);
  for (int i = 0; i < 3; ++i) CUIS_OK(t->step());
  const cuis::Checkpoint before = saved(*t, "cuis_gpu_refused_before");
  EXPECT_EQ(t->load(path), Error::shape_mismatch);
  EXPECT_NE(cuis::last_error_message().find("optimizer.lr 0.001, this run asks for optimizer.lr 0.05"),
            std::string::npos)
      << cuis::last_error_message();
  const cuis::Checkpoint still = saved(*t, "cuis_gpu_refused_after");
  EXPECT_EQ(still.params, before.params);
  EXPECT_EQ(still.step, 3u);
  std::remove(path.c_str());
}

}  // namespace
