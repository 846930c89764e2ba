# Re-plot by hand: gnuplot validation_resnet2020.gp (writes validation_resnet2020.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('validation_resnet2020.gp')]
if (!exists('out')) out = here . 'validation_resnet2020.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'resnet20 depth 20: validation accuracy, each arm at its best LR'
set xlabel 'step'
set ylabel 'validation accuracy'
set key bottom right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
plot here . 'validation_resnet2020.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none (lr 0.1)', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'none-he (lr 0.3)', \
     '' index 2 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 3 notitle, '' index 2 using 1:2 with lines lw 2 lc 3 title 'bn (lr 0.1)'
