# Writes OUT: a C++ file defining `const std::string_view VAR` with the bytes of IN.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," body "${hex}")
file(WRITE ${OUT} "// Generated from ${IN}; do not edit.\n#include <string_view>\nnamespace lamina::embedded {\nstatic const char kData[] = {${body} 0};\nextern const std::string_view ${VAR};\nconst std::string_view ${VAR}(kData, sizeof(kData) - 1);\n}\n")
