// Internal: turning cuBLAS failures into cuis::Error with file:line detail.
#pragma once

#include <cublas_v2.h>

#include <string>

#include "core/error_detail.h"

namespace cuis {
namespace detail {

inline const char* blas_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    default:
      return "cuBLAS error";
  }
}

}  // namespace detail
}  // namespace cuis

// Returns a cuis::Error from the enclosing function when a cuBLAS call fails
// (out_of_memory for an allocation failure, cuda_error otherwise).
#define CUIS_BLAS_TRY(call)                                                                                  \
  do {                                                                                                       \
    const cublasStatus_t cuis_bs_ = (call);                                                                  \
    if (cuis_bs_ != CUBLAS_STATUS_SUCCESS)                                                                   \
      return ::cuis::detail::set_error(                                                                      \
          cuis_bs_ == CUBLAS_STATUS_ALLOC_FAILED ? ::cuis::Error::out_of_memory : ::cuis::Error::cuda_error, \
          std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " + #call + ": " +                     \
              ::cuis::detail::blas_name(cuis_bs_));                                                          \
  } while (0)
