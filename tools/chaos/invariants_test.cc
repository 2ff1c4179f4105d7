// The invariants on an in-memory Snapshot, as a simulator calls them: no
// work directory, no database file.
#include "invariants.h"

#include <gtest/gtest.h>

#include <set>

namespace leaseq::chaos {
namespace {

// tA (1) done on w0; tB (2) after tA, lost on w1 while its link was cut,
// withdrawn when w1 came back, then done on w0.
Snapshot TwoTasks() {
  Snapshot s;
  TaskDef a{.key = "tA", .num = 1, .batch = "wave-0000"};
  TaskDef b{.key = "tB", .num = 2, .after = {"tA"}, .batch = "wave-0000"};
  s.submitted = {a, b};
  s.acked_keys = {"tA", "tB"};
  StoredTask ta{.id = 1, .key = "tA", .state = "done", .attempts_count = 1, .has_result = true,
                .result = ResultText(Fold(1, ""))};
  StoredTask tb{.id = 2, .key = "tB", .state = "done", .attempts_count = 2, .has_result = true,
                .result = ResultText(Fold(2, ta.result)), .deps = {1}};
  s.tasks = {ta, tb};
  s.attempts = {
      {.id = 1, .task_id = 1, .attempt_no = 1, .started_at = 100, .ended_at = 200, .task_key = "tA", .worker = "w0",
       .outcome = "done", .exit_code = 0},
      {.id = 2, .task_id = 2, .attempt_no = 1, .started_at = 300, .ended_at = 1000, .task_key = "tB",
       .worker = "w1", .outcome = "lost", .blame = "withdrawn"},
      {.id = 3, .task_id = 2, .attempt_no = 2, .started_at = 1100, .ended_at = 1200, .task_key = "tB",
       .worker = "w0", .outcome = "done", .exit_code = 0},
  };
  s.executions = {
      {.key = "tA", .attempt_no = 1, .starts = 1, .start_ms = 110, .end_ms = 190, .value = "1"},
      {.key = "tB", .attempt_no = 1, .starts = 1, .start_ms = 310},
      {.key = "tB", .attempt_no = 2, .starts = 1, .start_ms = 1110, .end_ms = 1190,
       .value = std::to_string(Fold(2, ta.result))},
  };
  s.worker_faults = {{WorkerFault::kCut, "w1", 0, 400, 1500, "net-cut"}};
  return s;
}

TEST(InvariantsTest, AGoodRunKeepsEveryPromise) {
  const Evaluation e = Evaluate(TwoTasks());
  EXPECT_TRUE(e.violations.empty()) << e.violations.front().category << ": " << e.violations.front().detail;
  EXPECT_EQ(e.tallies.lost_cut, 1);
  EXPECT_EQ(e.tallies.reexecutions, 1);
}

TEST(InvariantsTest, EachBrokenPromiseIsNamed) {
  Snapshot s = TwoTasks();
  s.worker_faults.clear();  // nothing happened to w1
  s.tasks[1].result = "7\n";
  std::vector<Violation> v = CheckInvariants(s);
  std::set<std::string> categories;
  for (const auto& x : v) categories.insert(x.category);
  EXPECT_EQ(categories, (std::set<std::string>{"lost attempt without a worker fault", "wrong result",
                                               "accepted result without a complete execution"}));
}

TEST(InvariantsTest, ADeathBlamedOnAWorkerCutOffThatCameBack) {
  Snapshot s = TwoTasks();
  s.attempts[1].blame = "death";
  s.tasks[1].suspicious = 1;
  s.tasks[1].deaths = 1;
  std::vector<Violation> v = CheckInvariants(s);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].category, "a death blamed on a worker that did not die");
}

// A simulator checks after every step: a task on its way is not yet a
// violation, what must hold at any time still is.
TEST(InvariantsTest, AMomentInARunIsJudgedByWhatHoldsAtAnyTime) {
  Snapshot s = TwoTasks();
  s.tasks[1].state = "running";
  s.tasks[1].has_result = false;
  s.attempts[2].outcome = "running";
  s.attempts[2].ended_at.reset();
  s.executions[2].end_ms = -1;
  EXPECT_FALSE(CheckInvariants(s).empty());  // as the end of a run: not finished
  s.at_end = false;
  EXPECT_TRUE(CheckInvariants(s).empty()) << CheckInvariants(s).front().category;
  s.tasks[1].suspicious = 1;  // the withdrawn loss counted: wrong at any time
  EXPECT_EQ(CheckInvariants(s).size(), 1u);
}

}  // namespace
}  // namespace leaseq::chaos
