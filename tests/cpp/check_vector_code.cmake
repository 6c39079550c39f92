# Compiles vector_code.cpp (the AVX2 and AVX-512 copies of every lane kernel) and fails if
# GCC expanded any vector operation piecewise, or if more than 5 % of the instructions
# move single lanes in and out of vectors (a scalarised copy is about 25 %; a vector one
# about 1 %, in the rare exact redo of special lanes). Runs on any x86-64, AVX-512 or not.
# -D CXX=compiler -D SOURCE=vector_code.cpp -D INCLUDE=cpp/include -D OBJDUMP=objdump -D WORK=dir
execute_process(
  COMMAND "${CXX}" -std=c++17 -O3 -Wno-psabi -Werror=vector-operation-performance -I "${INCLUDE}" -c "${SOURCE}"
          -o "${WORK}/vector_code.o"
  RESULT_VARIABLE compiled ERROR_VARIABLE diagnostics)
if(NOT compiled EQUAL 0)
  message(FATAL_ERROR "a lane kernel copy is expanded piecewise (scalarised):\n${diagnostics}")
endif()
execute_process(COMMAND "${OBJDUMP}" -d --no-show-raw-insn "${WORK}/vector_code.o" OUTPUT_VARIABLE listing
                RESULT_VARIABLE dumped)
if(NOT dumped EQUAL 0)
  message(FATAL_ERROR "${OBJDUMP} failed")
endif()
string(REGEX MATCHALL "\n +[0-9a-f]+:\t[a-z]" instructions "${listing}")
string(REGEX MATCHALL "\n +[0-9a-f]+:\t(vpextr|vpinsr|vinserti|vextracti|set[gl]|cmov)" lane_moves "${listing}")
list(LENGTH instructions total)
list(LENGTH lane_moves moves)
if(total LESS 10000)
  message(FATAL_ERROR "only ${total} instructions: the kernels were not instantiated")
endif()
math(EXPR per_mille "1000 * ${moves} / ${total}")
message(STATUS "${moves} of ${total} instructions move single lanes (${per_mille} per mille)")
if(per_mille GREATER 50)
  message(FATAL_ERROR "the vector kernels are scalarised: ${per_mille} per mille of the instructions move single lanes")
endif()
