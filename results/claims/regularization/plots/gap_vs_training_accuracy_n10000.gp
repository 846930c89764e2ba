# Re-plot by hand: gnuplot gap_vs_training_accuracy_n10000.gp (writes gap_vs_training_accuracy_n10000.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('gap_vs_training_accuracy_n10000.gp')]
if (!exists('out')) out = here . 'gap_vs_training_accuracy_n10000.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title '10000 training images: train-test gap against training accuracy'
set xlabel 'training accuracy, eval mode (%)'
set ylabel 'training minus test accuracy (points)'
set key top left
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
plot here . 'gap_vs_training_accuracy_n10000.dat' index 0 using 1:2 with linespoints lw 2 pt 1 ps 1.2 lc 1 title 'none', \
     '' index 1 using 1:2 with linespoints lw 2 pt 2 ps 1.2 lc 2 title 'bn', \
     '' index 2 using 1:2 with linespoints lw 2 pt 3 ps 1.2 lc 3 title 'gn', \
     '' index 3 using 1:2 with linespoints lw 2 pt 4 ps 1.2 lc 4 title 'none + dropout 0.5', \
     '' index 4 using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc 5 title 'bn + dropout 0.5', \
     '' index 5 using 1:2 with linespoints lw 2 pt 6 ps 1.2 lc 6 title 'gn + dropout 0.5', \
     '' index 6 using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc 7 title 'bn, batch 512'
