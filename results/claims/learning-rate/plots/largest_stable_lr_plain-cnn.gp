# Re-plot by hand: gnuplot largest_stable_lr_plain-cnn.gp (writes largest_stable_lr_plain-cnn.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('largest_stable_lr_plain-cnn.gp')]
if (!exists('out')) out = here . 'largest_stable_lr_plain-cnn.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'plain-cnn: largest stable learning rate against depth'
set xlabel 'depth (weight layers)'
set ylabel 'largest stable learning rate'
set key top right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale y
set format y '%g'
set ytics (0.1, 0.2, 0.5, 1, 2, 5, 10)
set logscale x
set format x '%g'
set xtics (5, 7, 10, 15)
plot here . 'largest_stable_lr_plain-cnn.dat' index 0 using 1:2 with linespoints lw 2 pt 1 ps 1.2 lc 1 title 'none', \
     '' index 1 using 1:2 with linespoints lw 2 pt 2 ps 1.2 lc 2 title 'bn', \
     '' index 2 using 1:2 with linespoints lw 2 pt 3 ps 1.2 lc 3 title 'bn-split'
