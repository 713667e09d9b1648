// Sharded importance sampling over R GPUs with NCCL (cuis/sharded.h): one
// process, one thread, one rank per device (ncclCommInitAll), so that it runs
// with R = 1 on a single GPU too. Each rank holds a shard of synthetic scores;
// a step is the three cuis calls with ncclAllGather between them, all on the
// rank's stream, and the draws of the global batch come from the one
// distribution over every shard (global mode, biased weights).
//
//   nccl_sharded [ranks]      (default: every visible device)
#include <cuda_runtime.h>
#include <nccl.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cuis/sharded.h"

#define CHECK_CUDA(x) check_cuda((x), #x)
#define CHECK_NCCL(x) check_nccl((x), #x)
#define CHECK_CUIS(x) check((x) == cuis::Error::success, #x, cuis::last_error_message().c_str())

static void check(bool ok, const char* what, const char* why) {
  if (ok) return;
  std::fprintf(stderr, "%s failed: %s\n", what, why);
  std::exit(1);
}
static void check_cuda(cudaError_t e, const char* what) { check(e == cudaSuccess, what, cudaGetErrorString(e)); }
static void check_nccl(ncclResult_t r, const char* what) { check(r == ncclSuccess, what, ncclGetErrorString(r)); }

// What one rank (device) holds: its shard, outputs, exchange buffers, workspace.
struct Rank {
  cudaStream_t stream;
  cuis::ShardInfo info;
  cuis::ShardArgs args;
  cuis::ShardRecord *mine, *records;  // 1 and R records
  cuis::ShardTerms *terms, *all_terms;
  void* ws;
  size_t ws_bytes;
};

int main(int argc, char** argv) {
  int devices = 0;
  CHECK_CUDA(cudaGetDeviceCount(&devices));
  const int R = argc > 1 ? std::atoi(argv[1]) : devices;
  if (R < 1 || R > devices) {
    std::fprintf(stderr, "ranks must be 1 .. %d (the visible devices)\n", devices);
    return 1;
  }
  const int64_t shard_n = 100000, b = 8;  // scores per shard, draws per rank
  cuis::SampleOptions opts;
  opts.weighting = cuis::Weighting::biased;
  opts.k = 0.5f;
  opts.rng = cuis::RngState{42, 0};  // every rank the same

  std::vector<ncclComm_t> comms(R);
  std::vector<int> devs(R);
  for (int r = 0; r < R; ++r) devs[r] = r;
  CHECK_NCCL(ncclCommInitAll(comms.data(), R, devs.data()));

  std::vector<Rank> ranks(R);
  for (int r = 0; r < R; ++r) {
    Rank& k = ranks[r];
    CHECK_CUDA(cudaSetDevice(r));
    CHECK_CUDA(cudaStreamCreate(&k.stream));
    k.info = cuis::ShardInfo{cuis::ShardMode::global, r, R, shard_n * R, 0};
    const int64_t cap = cuis::shard_capacity(k.info, b);
    // Synthetic scores: a few heavy samples among light ones.
    std::vector<float> host(shard_n);
    for (int64_t i = 0; i < shard_n; ++i) host[i] = (i * 7919 + r) % 1000 == 0 ? 50.0f : 0.1f + 0.01f * (i % 13);
    float* scores;
    CHECK_CUDA(cudaMalloc(&scores, shard_n * sizeof(float)));
    CHECK_CUDA(cudaMemcpy(scores, host.data(), shard_n * sizeof(float), cudaMemcpyHostToDevice));
    k.args = cuis::ShardArgs{scores, shard_n, nullptr, shard_n * r, b, nullptr, nullptr, nullptr, nullptr};
    CHECK_CUDA(cudaMalloc(&k.args.indices, cap * sizeof(int64_t)));
    CHECK_CUDA(cudaMalloc(&k.args.weights, cap * sizeof(float)));
    CHECK_CUDA(cudaMalloc(&k.args.count, sizeof(int64_t)));
    CHECK_CUDA(cudaMalloc(&k.args.status, sizeof(cuis::DeviceStatus)));
    CHECK_CUDA(cudaMalloc(&k.mine, sizeof(cuis::ShardRecord)));
    CHECK_CUDA(cudaMalloc(&k.records, R * sizeof(cuis::ShardRecord)));
    CHECK_CUDA(cudaMalloc(&k.terms, sizeof(cuis::ShardTerms)));
    CHECK_CUDA(cudaMalloc(&k.all_terms, R * sizeof(cuis::ShardTerms)));
    CHECK_CUIS(cuis::shard_workspace_size(k.info, shard_n, b, opts, &k.ws_bytes));
    CHECK_CUDA(cudaMalloc(&k.ws, k.ws_bytes));
  }

  // One step. A thread driving several communicators groups their collectives.
  for (Rank& k : ranks) {
    CHECK_CUDA(cudaSetDevice(k.info.rank));
    CHECK_CUIS(cuis::shard_record(k.args, k.info, opts, k.mine, k.ws, k.ws_bytes, k.stream));
  }
  CHECK_NCCL(ncclGroupStart());
  for (Rank& k : ranks)
    CHECK_NCCL(ncclAllGather(k.mine, k.records, sizeof(cuis::ShardRecord), ncclUint8, comms[k.info.rank], k.stream));
  CHECK_NCCL(ncclGroupEnd());
  for (Rank& k : ranks) {
    CHECK_CUDA(cudaSetDevice(k.info.rank));
    CHECK_CUIS(cuis::shard_sample(k.args, k.info, opts, k.records, k.terms, k.ws, k.ws_bytes, k.stream));
  }
  CHECK_NCCL(ncclGroupStart());
  for (Rank& k : ranks)
    CHECK_NCCL(ncclAllGather(k.terms, k.all_terms, sizeof(cuis::ShardTerms), ncclUint8, comms[k.info.rank], k.stream));
  CHECK_NCCL(ncclGroupEnd());
  for (Rank& k : ranks) {
    CHECK_CUDA(cudaSetDevice(k.info.rank));
    CHECK_CUIS(cuis::shard_rescale(k.args, k.info, opts, k.all_terms, k.ws, k.ws_bytes, k.stream));
  }

  // The results (read_status waits for the stream).
  bool all_ok = true;
  for (Rank& k : ranks) {
    CHECK_CUDA(cudaSetDevice(k.info.rank));
    cuis::DeviceStatus st;
    CHECK_CUIS(cuis::read_status(k.args.status, k.stream, &st));
    all_ok = all_ok && st.code == cuis::Error::success;
    const int64_t cap = cuis::shard_capacity(k.info, b);
    int64_t count = 0;
    std::vector<int64_t> idx(cap);
    std::vector<float> w(cap);
    CHECK_CUDA(cudaMemcpy(&count, k.args.count, sizeof count, cudaMemcpyDeviceToHost));
    CHECK_CUDA(cudaMemcpy(idx.data(), k.args.indices, cap * sizeof(int64_t), cudaMemcpyDeviceToHost));
    CHECK_CUDA(cudaMemcpy(w.data(), k.args.weights, cap * sizeof(float), cudaMemcpyDeviceToHost));
    std::printf("rank %d: %s, %lld of the %lld draws:", k.info.rank, cuis::describe(st).c_str(),
                static_cast<long long>(count), static_cast<long long>(R * b));
    for (int64_t j = 0; j < count; ++j) std::printf(" %lld (w %.4g)", static_cast<long long>(idx[j]), w[j]);
    std::printf("\n");
  }

  for (int r = 0; r < R; ++r) CHECK_NCCL(ncclCommDestroy(comms[r]));  // the process's exit frees the buffers
  return all_ok ? 0 : 1;
}
