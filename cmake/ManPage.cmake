# A man page from a program's --help (run as `cmake -P`): with help2man when
# HELP2MAN names it, else a minimal page (NAME, then the --help text as is).
# --version-string: help2man does not need the program's own --version.
# Args: PROGRAM, NAME, SUMMARY, VERSION, OUTPUT, HELP2MAN (may be empty or -NOTFOUND).
if(HELP2MAN)
  execute_process(
    COMMAND ${HELP2MAN} --no-info --no-discard-stderr --version-string=${VERSION}
            "--name=${SUMMARY}" --output=${OUTPUT} ${PROGRAM}
    RESULT_VARIABLE rc)
  if(rc EQUAL 0)
    return()
  endif()
  message(WARNING "help2man failed for ${NAME} (${rc}); writing a plain page")
endif()
execute_process(COMMAND ${PROGRAM} --help OUTPUT_VARIABLE help ERROR_VARIABLE help
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} --help exited ${rc}")
endif()
# roff: a leading '.' or '\'' would be a request; backslashes are escapes.
string(REPLACE "\\" "\\e" help "${help}")
string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
string(TOUPPER "${NAME}" upper)
file(WRITE ${OUTPUT} ".TH ${upper} 1 \"\" \"leaseq ${VERSION}\" \"User Commands\"
.SH NAME
${NAME} \\- ${SUMMARY}
.SH DESCRIPTION
.nf
${help}.fi
")
