# Re-plot by hand: gnuplot good_range_vs_depth.gp (writes good_range_vs_depth.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('good_range_vs_depth.gp')]
if (!exists('out')) out = here . 'good_range_vs_depth.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'width of the good range of weight scales against depth'
set xlabel 'depth (weight layers)'
set ylabel 'decades within 2 points of the best'
set key top right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale x
set format x '%g'
set xtics (2, 3, 5, 7)
plot here . 'good_range_vs_depth.dat' index 0 using 1:2 with linespoints lw 2 pt 1 ps 1.2 lc 1 title 'relu none', \
     '' index 1 using 1:2 with linespoints lw 2 pt 2 ps 1.2 lc 2 title 'relu bn', \
     '' index 2 using 1:2 with linespoints lw 2 pt 3 ps 1.2 lc 3 title 'sigmoid none', \
     '' index 3 using 1:2 with linespoints lw 2 pt 4 ps 1.2 lc 4 title 'sigmoid bn'
