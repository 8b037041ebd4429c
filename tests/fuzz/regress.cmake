# Replays each fuzz target's corpus through a plain driver
# (standalone_main.c), so every build, not only a SHOAL_FUZZ one, checks the
# target's invariants on the seeds and on any crash input saved there.
# Included from tests/unit/CMakeLists.txt.
set(SHOAL_FUZZ_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)

# Every fuzz_<name>.c is a target; its seeds are in corpus/<name>/.
file(GLOB SHOAL_FUZZ_TARGETS CONFIGURE_DEPENDS RELATIVE ${SHOAL_FUZZ_DIR}
  ${SHOAL_FUZZ_DIR}/fuzz_*.c)
list(TRANSFORM SHOAL_FUZZ_TARGETS REPLACE "^fuzz_(.*)\\.c$" "\\1")

foreach(target IN LISTS SHOAL_FUZZ_TARGETS)
  add_executable(fuzz_${target}_regress
    ${SHOAL_FUZZ_DIR}/fuzz_${target}.c
    ${SHOAL_FUZZ_DIR}/standalone_main.c)
  target_include_directories(fuzz_${target}_regress PRIVATE
    ${PROJECT_SOURCE_DIR}/src ${PROJECT_BINARY_DIR})
  target_link_libraries(fuzz_${target}_regress PRIVATE shoal_static
    PkgConfig::SODIUM PkgConfig::PROTOBUF_C)
  add_test(NAME fuzz_${target}_corpus
    COMMAND fuzz_${target}_regress ${SHOAL_FUZZ_DIR}/corpus/${target})
  set_tests_properties(fuzz_${target}_corpus PROPERTIES TIMEOUT 60
    LABELS fuzz)
endforeach()
