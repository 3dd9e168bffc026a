// Which functions a zygote may serve (runtime/runtimes.h zygoteCompatible): a forked process must
// behave as a fresh one, so every variable read only at process start must match the zygote's.
#include "runtime/runtimes.h"

#include <gtest/gtest.h>

namespace lamina::runtime {
namespace {

std::vector<std::string> zygoteEnv() {
  auto env = baseEnvironment("/var/task");
  env.push_back("AWS_EXECUTION_ENV=AWS_Lambda_python3.11");
  env.push_back("PYTHONUNBUFFERED=1");
  env.push_back("PYTHONDONTWRITEBYTECODE=1");
  return env;
}

// A function's environment as Environment::start builds it: base, its variables, lamina's.
std::vector<std::string> functionEnv(std::vector<std::string> variables) {
  auto env = zygoteEnv();
  for (auto& v : variables) {
    std::string prefix = v.substr(0, v.find('=') + 1);
    std::erase_if(env, [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
    env.push_back(std::move(v));
  }
  env.push_back("AWS_LAMBDA_FUNCTION_NAME=f");
  env.push_back("_HANDLER=app.handler");
  return env;
}

TEST(ZygoteCompatible, OrdinaryVariablesDoNotMatter) {
  EXPECT_TRUE(zygoteCompatible(zygoteEnv(), functionEnv({})));
  EXPECT_TRUE(zygoteCompatible(zygoteEnv(), functionEnv({"TABLE=orders", "DEBUG=1", "PATH=/opt/bin:/usr/bin"})));
  EXPECT_TRUE(zygoteCompatible(zygoteEnv(), functionEnv({"TZ=Europe/Paris"})));  // the child calls tzset()
}

TEST(ZygoteCompatible, VariablesReadAtStartNeedAFreshInterpreter) {
  for (const char* v : {"PYTHONPATH=/var/task/vendor", "PYTHONHASHSEED=0", "PYTHONWARNINGS=error", "LD_PRELOAD=/x.so",
                        "LD_LIBRARY_PATH=/var/task/native", "LANG=C", "LC_ALL=C", "MALLOC_ARENA_MAX=2",
                        "GLIBC_TUNABLES=glibc.malloc.tcache_count=0", "AWS_LAMBDA_EXEC_WRAPPER=/opt/wrapper",
                        "NODE_OPTIONS=--max-old-space-size=100", "NODE_EXTRA_CA_CERTS=/var/task/ca.pem"})
    EXPECT_FALSE(zygoteCompatible(zygoteEnv(), functionEnv({v}))) << v;
  // Set to what the zygote has: no difference.
  EXPECT_TRUE(zygoteCompatible(zygoteEnv(), functionEnv({"PYTHONUNBUFFERED=1", "LANG=en_US.UTF-8"})));
  // Removing one counts too.
  auto env = functionEnv({});
  std::erase_if(env, [](const std::string& e) { return e.rfind("PYTHONDONTWRITEBYTECODE=", 0) == 0; });
  EXPECT_FALSE(zygoteCompatible(zygoteEnv(), env));
}

}  // namespace
}  // namespace lamina::runtime
