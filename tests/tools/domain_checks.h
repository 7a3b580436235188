// Checks of a Manager/Worker history that the simulator's tests share: the
// lifecycle of a task stream and of an agent stream, given its events in
// revision order (type and JSON data).

#ifndef VIGIL_TESTS_TOOLS_DOMAIN_CHECKS_H_
#define VIGIL_TESTS_TOOLS_DOMAIN_CHECKS_H_

#include <simdjson.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::testing {

struct TypedEvent {
  std::string type;
  std::string data;  // a JSON object
};

inline std::string JsonField(const std::string& json, const char* field) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) return "<bad json>";
  std::string_view value;
  if (root[field].get_string().get(value) == simdjson::SUCCESS) {
    return std::string(value);
  }
  int64_t number = 0;
  if (root[field].get_int64().get(number) == simdjson::SUCCESS) {
    return std::to_string(number);
  }
  return "";
}

// Empty when the task stream's events tell a possible story: created first
// and once; assigned (again) only before it starts; started by the worker
// it was last assigned to; progress (never backwards) and the end by that
// worker while started; nothing after TaskCompleted or TaskFailed.
// Otherwise what is wrong, and at which revision.
inline std::string CheckTaskLifecycle(const std::vector<TypedEvent>& events) {
  enum class State { kNone, kCreated, kAssigned, kStarted, kEnded };
  State state = State::kNone;
  std::string assigned, worker;
  int percent = 0;
  for (size_t revision = 0; revision < events.size(); ++revision) {
    const TypedEvent& event = events[revision];
    auto problem = [&](std::string_view what) {
      return std::string(what) + " at revision " + std::to_string(revision) +
             " (" + event.type + ")";
    };
    if (state == State::kEnded) return problem("an event after the end");
    if (event.type == "TaskCreated") {
      if (state != State::kNone) return problem("created twice");
      state = State::kCreated;
      continue;
    }
    if (state == State::kNone) return problem("not created first");
    if (event.type == "TaskAssigned") {
      if (state == State::kStarted) return problem("assigned once started");
      assigned = JsonField(event.data, "worker_id");
      state = State::kAssigned;
    } else if (event.type == "TaskStarted") {
      if (state != State::kAssigned) return problem("started unassigned");
      worker = JsonField(event.data, "worker_id");
      if (worker != assigned) return problem("started by another worker");
      state = State::kStarted;
    } else if (event.type == "TaskProgress") {
      if (state != State::kStarted) return problem("progress before start");
      if (JsonField(event.data, "worker_id") != worker) {
        return problem("progress by another worker");
      }
      const int now = std::stoi(JsonField(event.data, "percent"));
      if (now < percent || now > 100) return problem("percent went backwards");
      percent = now;
    } else if (event.type == "TaskCompleted" || event.type == "TaskFailed") {
      if (state != State::kStarted) return problem("ended before start");
      if (JsonField(event.data, "worker_id") != worker) {
        return problem("ended by another worker");
      }
      state = State::kEnded;
    } else if (event.type == "MessageSent") {
      if (state != State::kStarted) return problem("message before start");
    } else {
      return problem("an unexpected type");
    }
  }
  return "";
}

// Empty when the agent stream starts with AgentRegistered, has it once,
// and has nothing after AgentStopped.
inline std::string CheckAgentLifecycle(const std::vector<TypedEvent>& events) {
  for (size_t revision = 0; revision < events.size(); ++revision) {
    const std::string& type = events[revision].type;
    const std::string where = " at revision " + std::to_string(revision);
    if ((revision == 0) != (type == "AgentRegistered")) {
      return "AgentRegistered not first and once" + where;
    }
    if (type == "AgentStopped" && revision + 1 != events.size()) {
      return "an event after AgentStopped" + where;
    }
  }
  return "";
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TOOLS_DOMAIN_CHECKS_H_
