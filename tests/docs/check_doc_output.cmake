# Runs PROGRAM and compares its output with the fenced block of DOC between the lines
# `<!-- program-output:begin -->` and `<!-- program-output:end -->` (the fence lines are not
# compared). With -DUPDATE=ON it writes the output into DOC instead.
#   cmake -DPROGRAM=build/walkthrough -DDOC=docs/walkthrough.md [-DUPDATE=ON] -P tests/docs/check_doc_output.cmake
execute_process(COMMAND ${PROGRAM} OUTPUT_VARIABLE actual RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}")
endif()
file(READ ${DOC} doc)
set(begin_marker "<!-- program-output:begin -->\n```text\n")
set(end_marker "```\n<!-- program-output:end -->")
string(FIND "${doc}" "${begin_marker}" begin)
string(FIND "${doc}" "${end_marker}" end)
if(begin EQUAL -1 OR end EQUAL -1 OR end LESS begin)
  message(FATAL_ERROR "${DOC}: no block between <!-- program-output:begin --> and <!-- program-output:end -->")
endif()
string(LENGTH "${begin_marker}" begin_length)
math(EXPR first "${begin} + ${begin_length}")
math(EXPR length "${end} - ${first}")
string(SUBSTRING "${doc}" ${first} ${length} documented)
if(UPDATE)
  string(SUBSTRING "${doc}" 0 ${first} head)
  string(SUBSTRING "${doc}" ${end} -1 tail)
  file(WRITE ${DOC} "${head}${actual}${tail}")
  message(STATUS "${DOC}: output block updated")
elseif(NOT documented STREQUAL actual)
  set(out ${PROGRAM}.actual.txt)
  file(WRITE ${out} "${actual}")
  message(FATAL_ERROR "${DOC} does not show what ${PROGRAM} prints (its output is in ${out}). "
                      "If the program changed on purpose, update the doc: cmake -DPROGRAM=${PROGRAM} -DDOC=${DOC} "
                      "-DUPDATE=ON -P ${CMAKE_CURRENT_LIST_FILE}, then reread the explanations around it.")
else()
  message(STATUS "${DOC} matches the output of ${PROGRAM}")
endif()
