// A temporary file path unique to the running test and process, so that
// tests ctest runs in parallel never share a file.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace cuis_test {

inline std::string temp_path(const std::string& name) {
  const ::testing::TestInfo* t = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string test = t ? std::string(t->test_suite_name()) + "." + t->name() : "none";
  return ::testing::TempDir() + "cuis_" + test + "_" + std::to_string(getpid()) + "_" + name;
}

}  // namespace cuis_test
