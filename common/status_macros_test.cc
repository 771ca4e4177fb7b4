#include "common/status_macros.h"

#include "gtest/gtest.h"

namespace tessera {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  TESSERA_ASSIGN_OR_RETURN(int half, Half(x));
  TESSERA_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int x) {
  TESSERA_RETURN_IF_ERROR_CTX(Half(x).status(), "check");
  return absl::OkStatus();
}

TEST(StatusMacrosTest, AssignOrReturnPassesValues) {
  EXPECT_EQ(*Quarter(8), 2);
}

TEST(StatusMacrosTest, AssignOrReturnPropagatesErrors) {
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StatusMacrosTest, ContextIsPrepended) {
  absl::Status s = CheckEven(3);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "check: odd");
  EXPECT_TRUE(CheckEven(4).ok());
}

}  // namespace
}  // namespace tessera
