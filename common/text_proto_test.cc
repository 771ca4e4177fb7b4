#include "common/text_proto.h"

#include "common/mapped_file.h"
#include "common/testing/shared_data.h"
#include "google/protobuf/duration.pb.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

TEST(TextProtoTest, ParsesValidText) {
  google::protobuf::Duration d;
  d.set_nanos(7);  // cleared by the parse
  ASSERT_TRUE(ParseTextProto("seconds: 5", "inline", &d).ok());
  EXPECT_EQ(d.seconds(), 5);
  EXPECT_EQ(d.nanos(), 0);
}

TEST(TextProtoTest, ErrorsNameTheLineAndColumn) {
  google::protobuf::Duration d;
  absl::Status s = ParseTextProto("seconds: 5\n  minutes: 3\n", "f.txt", &d);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("f.txt:2:"), std::string::npos) << s;
  EXPECT_NE(s.message().find("minutes"), std::string::npos) << s;
  EXPECT_FALSE(ParseTextProto("seconds: \"x\"", "g", &d).ok());
}

TEST(TextProtoTest, ReadsFilesAndReportsMissingOnes) {
  const std::string path = testing::TempDir() + "/text_proto_test.textproto";
  ASSERT_TRUE(WriteStringToFile(path, "# comment\nnanos: 9\n").ok());
  google::protobuf::Duration d;
  ASSERT_TRUE(ReadTextProtoFile(path, &d).ok());
  EXPECT_EQ(d.nanos(), 9);
  EXPECT_EQ(ReadTextProtoFile(path + ".absent", &d).code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tessera
