#include "sim/command_runner.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace tessera::sim {
namespace {

TEST(CommandRunnerTest, ReturnsStdout) {
  auto out = RunCommand({"/bin/echo", "hello", "world"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "hello world\n");
}

TEST(CommandRunnerTest, FailureNamesTheCommandAndItsStderr) {
  auto out = RunCommand({"/bin/ls", "/no/such/dir"});
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(
      absl::StrContains(out.status().message(), "`/bin/ls /no/such/dir`"));
  EXPECT_TRUE(absl::StrContains(out.status().message(), "exited with"));
  EXPECT_TRUE(absl::StrContains(out.status().message(), "No such file"))
      << out.status();
}

TEST(CommandRunnerTest, MissingProgramAndEmptyArgv) {
  EXPECT_FALSE(RunCommand({"/no/such/tool"}).ok());
  EXPECT_EQ(RunCommand({}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::sim
