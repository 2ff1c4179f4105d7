# Script mode helper for EmbedSql.cmake.
set(content "// Generated from sql/ by cmake/EmbedSqlScript.cmake. Do not edit.\n#pragma once\n\n")
string(REPLACE "|" ";" INPUTS "${INPUTS}")
foreach(f ${INPUTS})
  get_filename_component(name ${f} NAME_WE)
  file(READ ${f} sql)
  string(APPEND content "inline constexpr const char kSql_${name}[] = R\"leaseq_sql(${sql})leaseq_sql\";\n\n")
endforeach()
file(WRITE ${OUT} "${content}")
