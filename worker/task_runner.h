// TaskRunner: one background thread running queued closures in order. gRPC
// reactors hand slow control-plane work (profiling, shard loading, link
// measurements) to it so that they never block a gRPC thread.
// Thread-safety: Post() is thread-safe; the destructor runs the queued tasks
// that remain, then joins.
#ifndef TESSERA_WORKER_TASK_RUNNER_H_
#define TESSERA_WORKER_TASK_RUNNER_H_

#include <deque>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace tessera::worker {

class TaskRunner {
 public:
  TaskRunner();
  ~TaskRunner();
  TaskRunner(const TaskRunner&) = delete;
  TaskRunner& operator=(const TaskRunner&) = delete;

  void Post(std::function<void()> task);

 private:
  void Loop();

  absl::Mutex mutex_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mutex_);
  bool stop_ ABSL_GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

}  // namespace tessera::worker

#endif  // TESSERA_WORKER_TASK_RUNNER_H_
