# Script mode (cmake -P), run by the targets aws_lambda_package_target() makes (lamina-lambda.cmake,
# which explains what goes into the zip and why):
#   -DBINARY=<executable> -DSTAGE=<scratch dir, recreated> -DZIP=<zip to write>
#   [-DZIP_PROGRAM=<zip tool>]: found on PATH when not given; a *-NOTFOUND value forces the
#   `cmake -E tar --format=zip` fallback.
foreach(var BINARY STAGE ZIP)
  if(NOT ${var})
    message(FATAL_ERROR "lamina-lambda-package.cmake: -D${var}=... is required")
  endif()
endforeach()

file(REMOVE_RECURSE "${STAGE}")
file(MAKE_DIRECTORY "${STAGE}")
file(COPY_FILE "${BINARY}" "${STAGE}/bootstrap")
file(CHMOD "${STAGE}/bootstrap" FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
     WORLD_READ WORLD_EXECUTE)

# The C and C++ runtimes, which the host provides (see lamina-lambda.cmake).
set(host_provided "^(ld-linux.*|libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil|libnsl|libanl|libBrokenLocale|libthread_db|libnss_.*|libstdc\\+\\+|libgcc_s)\\.so")

# ldd lines: "libfoo.so.1 => /path/libfoo.so.1 (0x...)", "libbar.so => not found",
# "/lib64/ld-linux-x86-64.so.2 (0x...)", "linux-vdso.so.1 (0x...)". A static executable makes ldd
# fail ("not a dynamic executable"): then there is nothing to add.
execute_process(COMMAND ldd "${BINARY}" OUTPUT_VARIABLE ldd_out RESULT_VARIABLE ldd_rc ERROR_QUIET)
set(members bootstrap)
if(ldd_rc EQUAL 0)
  string(REPLACE "\n" ";" ldd_lines "${ldd_out}")
  foreach(line IN LISTS ldd_lines)
    if(line MATCHES "^[ \t]*([^ \t]+) => not found")
      message(FATAL_ERROR "${BINARY} needs ${CMAKE_MATCH_1}, which ldd cannot find")
    endif()
    if(NOT line MATCHES "=> (/[^ \t]+)")
      continue()
    endif()
    set(lib "${CMAKE_MATCH_1}")
    get_filename_component(name "${lib}" NAME)
    if(name MATCHES "${host_provided}")
      continue()
    endif()
    file(MAKE_DIRECTORY "${STAGE}/lib")
    file(COPY_FILE "${lib}" "${STAGE}/lib/${name}")  # follows symlinks: the real bytes under the soname
    list(APPEND members "lib/${name}")
  endforeach()
endif()

file(REMOVE "${ZIP}")
if(NOT DEFINED ZIP_PROGRAM)
  find_program(ZIP_PROGRAM zip)
endif()
if(ZIP_PROGRAM)
  execute_process(COMMAND "${ZIP_PROGRAM}" -q -X "${ZIP}" ${members} WORKING_DIRECTORY "${STAGE}" RESULT_VARIABLE rc)
else()
  execute_process(COMMAND "${CMAKE_COMMAND}" -E tar cf "${ZIP}" --format=zip ${members}
                  WORKING_DIRECTORY "${STAGE}" RESULT_VARIABLE rc)
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "could not write ${ZIP}")
endif()
list(LENGTH members count)
math(EXPR count "${count} - 1")
message(STATUS "${ZIP}: bootstrap and ${count} shared libraries")
