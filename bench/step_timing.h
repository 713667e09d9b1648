// Shared by the MLP benchmark binaries (cuis_bench_trainer, cuis_bench_mlp):
// timing `steps` enqueued steps with CUDA events, and capturing one
// cuis::Mlp::train_step per batch slot into graphs to replay.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "cuis/error.h"
#include "cuis/mlp.h"

namespace cuis_bench {

// Times `steps` calls of enqueue(k) per benchmark iteration on `stream` with
// CUDA events (manual time, per step); returns the mean seconds per step, or
// a negative number after SkipWithError.
template <class Enqueue>
double time_steps(benchmark::State& state, cudaStream_t stream, cudaEvent_t start, cudaEvent_t stop, int steps,
                  Enqueue enqueue) {
  double total = 0.0;
  for (auto _ : state) {
    cudaEventRecord(start, stream);
    for (int k = 0; k < steps; ++k)
      if (!enqueue(k)) {
        state.SkipWithError(cuis::last_error_message().c_str());
        return -1.0;
      }
    float ms = 0;
    cudaError_t e = cudaEventRecord(stop, stream);
    if (e == cudaSuccess) e = cudaEventSynchronize(stop);
    if (e == cudaSuccess) e = cudaEventElapsedTime(&ms, start, stop);
    if (e == cudaSuccess) e = cudaGetLastError();
    if (e != cudaSuccess || !(ms > 0.0f)) {  // a zero time would make the loop run for ever
      state.SkipWithError((std::string("timing failed: ") + cudaGetErrorString(e)).c_str());
      return -1.0;
    }
    state.SetIterationTime(ms / 1e3 / steps);
    total += ms / 1e3;
  }
  return total / (static_cast<double>(state.iterations()) * steps);
}

// One captured train_step of mlp per batch slot k in [0, slots), batch_of(k)
// its batch, into *execs; false after SkipWithError (and nothing left to free).
template <class BatchOf>
bool capture_steps(benchmark::State& state, cuis::Mlp& mlp, cudaStream_t stream, int slots, BatchOf batch_of,
                   std::vector<cudaGraphExec_t>* execs) {
  for (int k = 0; k < slots; ++k) {
    cudaGraph_t graph = nullptr;
    cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal);
    const cuis::Error e = mlp.train_step(batch_of(k), stream);
    const cudaError_t ended = cudaStreamEndCapture(stream, &graph);  // ends it even when the step failed
    cudaGraphExec_t exec = nullptr;
    const bool ok =
        e == cuis::Error::success && ended == cudaSuccess && cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
    if (graph) cudaGraphDestroy(graph);
    if (!ok) {
      (void)cudaGetLastError();
      for (cudaGraphExec_t x : *execs) cudaGraphExecDestroy(x);
      execs->clear();
      state.SkipWithError(("capture failed: " + cuis::last_error_message()).c_str());
      return false;
    }
    execs->push_back(exec);
  }
  return true;
}

}  // namespace cuis_bench
