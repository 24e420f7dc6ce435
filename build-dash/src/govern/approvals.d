build-dash/src/govern/approvals.o: src/govern/approvals.c \
 src/govern/approvals.h
src/govern/approvals.h:
