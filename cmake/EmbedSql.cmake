# embed_sql(OUT FILE...): compiles the SQL files into a C++ header, one
# `inline constexpr const char kSql_<name>[]` per file, as a raw string.
# The schema in sql/ is the single source; the broker never reads sql/ at run time.
function(embed_sql out)
  set(inputs ${ARGN})
  # A list's ';' would split the command line: pass the files joined by '|'.
  string(REPLACE ";" "|" joined "${inputs}")
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} "-DINPUTS=${joined}"
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedSqlScript.cmake
    DEPENDS ${inputs} ${PROJECT_SOURCE_DIR}/cmake/EmbedSqlScript.cmake
    COMMENT "Embedding SQL schema"
    VERBATIM)
  add_custom_target(leaseq_sql DEPENDS ${out})
endfunction()
