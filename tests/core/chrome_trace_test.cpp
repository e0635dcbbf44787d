// The Chrome trace-event writer (core/chrome_trace.h), read back with nlohmann::json: every kind
// of event, escaping, microsecond times from cycles, and the event cap.
#include "core/chrome_trace.h"

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace lockstep::core {
namespace {

TEST(ChromeTraceTest, EveryEventKindReadsBack) {
  std::ostringstream out;
  {
    ChromeTraceWriter w(out, 500e6, ChromeTraceWriter::kDefaultMaxEvents,
                        TraceArgs().add("system", "groq \"node\"").add("clock_hz", 500e6));
    w.process(1, "chip 0 (stage 0 rank 0)", 3);
    w.thread(1, 2, "mem.w1\\x\n", 7);
    w.complete(1, 2, "add", 500, 1000,
               TraceArgs()
                   .add("cycle", std::uint64_t{500})
                   .add("busy", 0.25)
                   .add("streams", "e0 -> w1")
                   .add("nan", std::numeric_limits<double>::quiet_NaN()));
    w.counter(0, "streams in use", 64, TraceArgs().add("east", 1).add("west", 2));
    w.instant(0, 0, std::string("bad utf-8 \xff"), 2000);
    EXPECT_EQ(w.events_written(), 7u);
    EXPECT_FALSE(w.truncated());
  }  // the destructor closes the document
  const auto doc = nlohmann::json::parse(out.str());
  EXPECT_EQ(doc.at("displayTimeUnit"), "ns");
  EXPECT_EQ(doc.at("otherData").at("system"), "groq \"node\"");
  EXPECT_EQ(doc.at("otherData").at("clock_hz").get<double>(), 500e6);
  const auto& e = doc.at("traceEvents");
  ASSERT_EQ(e.size(), 7u);
  EXPECT_EQ(e[0].at("name"), "process_name");
  EXPECT_EQ(e[0].at("args").at("name"), "chip 0 (stage 0 rank 0)");
  EXPECT_EQ(e[1].at("name"), "process_sort_index");
  EXPECT_EQ(e[1].at("args").at("sort_index"), 3);
  EXPECT_EQ(e[2].at("name"), "thread_name");
  EXPECT_EQ(e[2].at("tid"), 2);
  EXPECT_EQ(e[2].at("args").at("name"), "mem.w1\\x\n");
  EXPECT_EQ(e[3].at("args").at("sort_index"), 7);
  EXPECT_EQ(e[4].at("ph"), "X");
  EXPECT_DOUBLE_EQ(e[4].at("ts").get<double>(), 1.0);   // 500 cycles at 500 MHz
  EXPECT_DOUBLE_EQ(e[4].at("dur").get<double>(), 2.0);  // 1000 cycles
  EXPECT_EQ(e[4].at("args").at("cycle"), 500);
  EXPECT_EQ(e[4].at("args").at("busy"), 0.25);
  EXPECT_EQ(e[4].at("args").at("streams"), "e0 -> w1");
  EXPECT_TRUE(e[4].at("args").at("nan").is_null());
  EXPECT_EQ(e[5].at("ph"), "C");
  EXPECT_DOUBLE_EQ(e[5].at("ts").get<double>(), 0.128);
  EXPECT_EQ(e[5].at("args").at("west"), 2);
  EXPECT_EQ(e[6].at("ph"), "i");
  EXPECT_EQ(e[6].at("s"), "g");
  EXPECT_EQ(e[6].at("name"), "bad utf-8 \xef\xbf\xbd");  // replaced, not thrown
}

TEST(ChromeTraceTest, TheCapEndsWithAnInstantSayingSo) {
  std::ostringstream out;
  ChromeTraceWriter w(out, 1e9, 5);
  w.process(1, "p", 0);                        // events 1, 2
  w.thread(1, 1, "t", 0);                      // 3, 4
  for (int i = 0; i < 10; ++i) w.complete(1, 1, "x", 1000 * (i + 1), 10);  // 5th: the mark
  w.instant(0, 0, "end", 99999);
  EXPECT_TRUE(w.truncated());
  EXPECT_EQ(w.events_written(), 5u);
  w.close();
  w.close();  // once only
  const auto doc = nlohmann::json::parse(out.str());
  const auto& e = doc.at("traceEvents");
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e.back().at("name"), "trace truncated after 4 events");
  EXPECT_EQ(e.back().at("ph"), "i");
  EXPECT_DOUBLE_EQ(e.back().at("ts").get<double>(), 1.0);  // where the first dropped event was
}

TEST(ChromeTraceTest, AnEmptyTraceIsADocument) {
  std::ostringstream out;
  { ChromeTraceWriter w(out, 0); }  // clock 0: 1 GHz
  const auto doc = nlohmann::json::parse(out.str());
  EXPECT_TRUE(doc.at("traceEvents").empty());
  EXPECT_TRUE(doc.at("otherData").empty());
}

}  // namespace
}  // namespace lockstep::core
