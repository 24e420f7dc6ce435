build-dash/src/govern/egress_scan.o: src/govern/egress_scan.c \
 src/govern/egress_scan.h
src/govern/egress_scan.h:
